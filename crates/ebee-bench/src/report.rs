//! The printed table: times per engine, then the ratios the project
//! tracks, as aligned text or Markdown.

use crate::measure::{Cell, Row};
use std::fmt::Write;
use std::time::Duration;

/// A tracked ratio: `numerator` engine time over `denominator` engine time.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    /// Column heading.
    pub label: &'static str,
    /// Engine whose time is divided.
    pub numerator: &'static str,
    /// Engine it is divided by.
    pub denominator: &'static str,
    /// The ratio must stay below this, if the project set a goal.
    pub target: Option<f64>,
}

/// The ratios printed under the times.
pub const RATIOS: &[Ratio] = &[
    Ratio {
        label: "interp/rbpf",
        numerator: "ebee-interp",
        denominator: "rbpf-interp",
        target: Some(1.0 / 3.0),
    },
    Ratio {
        label: "checked/unchecked",
        numerator: "ebee-interp",
        denominator: "ebee-interp-unchecked",
        target: Some(1.10),
    },
    Ratio {
        label: "interp/native",
        numerator: "ebee-interp",
        denominator: "native",
        target: None,
    },
    Ratio {
        label: "jit-checked/jit",
        numerator: "ebee-jit-checked",
        denominator: "ebee-jit",
        target: Some(1.3),
    },
    Ratio {
        label: "jit/rbpf-jit",
        numerator: "ebee-jit",
        denominator: "rbpf-jit",
        target: None,
    },
    Ratio {
        label: "jit/kernel-jit",
        numerator: "ebee-jit",
        denominator: "kernel-jit",
        target: None,
    },
    Ratio {
        label: "jit/native",
        numerator: "ebee-jit",
        denominator: "native",
        target: None,
    },
];

/// Output flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Space-aligned columns for a terminal.
    Text,
    /// GitHub Markdown tables, for the README.
    Markdown,
}

/// "12.3 ms", "456 µs", "7.89 µs": three significant digits.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// `numerator / denominator` for one row, if both engines ran.
pub fn ratio_of(row: &Row, engine_names: &[&str], ratio: &Ratio) -> Option<f64> {
    let time = |name: &str| {
        let index = engine_names.iter().position(|n| *n == name)?;
        row.cells[index].time()
    };
    let numerator = time(ratio.numerator)?.as_secs_f64();
    let denominator = time(ratio.denominator)?.as_secs_f64();
    (denominator > 0.0).then(|| numerator / denominator)
}

fn format_ratio(value: f64, target: Option<f64>) -> String {
    match target {
        Some(target) if value < target => format!("{value:.2} ok"),
        Some(_) => format!("{value:.2} MISS"),
        None => format!("{value:.2}"),
    }
}

fn geometric_mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let log_sum: f64 = values.iter().map(|v| v.ln()).sum();
    Some((log_sum / values.len() as f64).exp())
}

/// The times table, the ratios table and footnotes for failed cells.
pub fn render(rows: &[Row], engine_names: &[&str], rounds: usize, style: Style) -> String {
    let mut out = String::new();
    let mut notes = Vec::new();

    // Times.
    let mut header = vec!["benchmark".to_string()];
    header.extend(engine_names.iter().map(|n| n.to_string()));
    let mut body = Vec::new();
    for row in rows {
        let mut line = vec![row.bench.name.to_string()];
        for (cell, engine) in row.cells.iter().zip(engine_names) {
            line.push(match cell {
                Cell::Timed { best, .. } => format_duration(*best),
                Cell::Failed(message) if message.starts_with("n/a:") => "n/a".to_string(),
                Cell::Failed(message) => {
                    notes.push(format!("{} on {engine}: {message}", row.bench.name));
                    format!("failed [{}]", notes.len())
                }
            });
        }
        body.push(line);
    }
    let _ = writeln!(out, "Time per run (minimum of {rounds} rounds):\n");
    out.push_str(&table(&header, &body, style));

    // Ratios, for those whose engines are present.
    let ratios: Vec<&Ratio> = RATIOS
        .iter()
        .filter(|r| engine_names.contains(&r.numerator) && engine_names.contains(&r.denominator))
        .collect();
    if !ratios.is_empty() {
        let mut header = vec!["benchmark".to_string()];
        header.extend(ratios.iter().map(|r| match r.target {
            Some(t) => format!("{} (< {t:.2})", r.label),
            None => r.label.to_string(),
        }));
        let mut body = Vec::new();
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); ratios.len()];
        for row in rows {
            let mut line = vec![row.bench.name.to_string()];
            for (i, ratio) in ratios.iter().enumerate() {
                line.push(match ratio_of(row, engine_names, ratio) {
                    Some(value) => {
                        columns[i].push(value);
                        format_ratio(value, ratio.target)
                    }
                    None => "-".to_string(),
                });
            }
            body.push(line);
        }
        if rows.len() > 1 {
            let mut line = vec!["geomean".to_string()];
            for (i, ratio) in ratios.iter().enumerate() {
                line.push(match geometric_mean(&columns[i]) {
                    Some(value) => format_ratio(value, ratio.target),
                    None => "-".to_string(),
                });
            }
            body.push(line);
        }
        let _ = writeln!(out, "\nRatios (time / time; 'ok' when under the goal):\n");
        out.push_str(&table(&header, &body, style));
    }

    let _ = writeln!(out);
    for row in rows {
        let _ = writeln!(
            out,
            "{}{}: {} ({} insns, result {:#x})",
            if style == Style::Markdown { "- " } else { "" },
            row.bench.name,
            row.bench.description,
            row.bench.program.slots(),
            row.expected
        );
    }
    for (i, note) in notes.iter().enumerate() {
        let _ = writeln!(out, "[{}] {note}", i + 1);
    }
    out
}

fn table(header: &[String], body: &[Vec<String>], style: Style) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for line in body {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let pad = |cell: &str, width: usize, left: bool| {
        let fill = " ".repeat(width - cell.chars().count());
        if left {
            format!("{cell}{fill}")
        } else {
            format!("{fill}{cell}")
        }
    };
    let mut out = String::new();
    let format_line = |line: &[String]| -> String {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(i, cell)| pad(cell, widths[i], i == 0))
            .collect();
        match style {
            Style::Text => cells.join("  ").trim_end().to_string(),
            Style::Markdown => format!("| {} |", cells.join(" | ")),
        }
    };
    out.push_str(&format_line(header));
    out.push('\n');
    if style == Style::Markdown {
        // `:---` aligns the names left, `---:` the numbers right.
        let rule: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let dashes = "-".repeat(w + 1);
                if i == 0 {
                    format!(":{dashes}")
                } else {
                    format!("{dashes}:")
                }
            })
            .collect();
        out.push_str(&format!("|{}|\n", rule.join("|")));
    }
    for line in body {
        out.push_str(&format_line(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_rule_has_one_alignment_cell_per_column() {
        let header = vec!["benchmark".to_string(), "native".to_string()];
        let body = vec![vec!["primes".to_string(), "1.00 ms".to_string()]];
        let text = table(&header, &body, Style::Markdown);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "| benchmark |  native |");
        assert_eq!(lines[1], "|:----------|--------:|");
        assert_eq!(lines[2], "| primes    | 1.00 ms |");
    }

    #[test]
    fn durations_keep_three_significant_digits() {
        assert_eq!(format_duration(Duration::from_nanos(950)), "950 ns");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.50 ms");
        assert_eq!(format_duration(Duration::from_micros(21_300)), "21.3 ms");
        assert_eq!(format_duration(Duration::from_micros(104_000)), "104 ms");
    }
}
