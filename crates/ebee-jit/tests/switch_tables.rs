//! Compare trees on a masked register, which the verified-mode JIT turns
//! into jump tables, against the interpreter: random masks (some too wide
//! for a table), random compares at both widths, and leaves that jump back
//! into the middle of the tree with a changed register (so some compares
//! stay reachable from outside their tree). The result must be the
//! interpreter's in both modes, and the code must also compile for aarch64.

use ebee_isa::assemble;
use proptest::prelude::*;

mod support;

const CONDS: &[&str] = &[
    "==", "!=", "<", "<=", ">", ">=", "s<", "s<=", "s>", "s>=", "&",
];
const MASKS: &[i32] = &[3, 7, 15, 0x2d, 63, 100, 255, 256, -1];

/// One line of the program: an instruction, or a jump to a label.
enum Line {
    Plain(String),
    Jump(String, Label),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Label {
    Node(usize),
    Leaf(usize),
    End,
}

/// A compare: condition, immediate, 32-bit, where it jumps.
type Node = (usize, i32, bool, Label);

fn assemble_lines(lines: &[(Option<Label>, Line)]) -> String {
    let pc_of = |l: Label| {
        lines
            .iter()
            .position(|(at, _)| *at == Some(l))
            .expect("label defined")
    };
    let mut out = Vec::new();
    for (pc, (_, line)) in lines.iter().enumerate() {
        out.push(match line {
            Line::Plain(s) => s.clone(),
            Line::Jump(prefix, to) => {
                let off = pc_of(*to) as i64 - pc as i64 - 1;
                format!("{prefix} goto {off:+}")
            }
        });
    }
    out.join("\n")
}

fn program(
    a: i32,
    mask: usize,
    wide_mask: bool,
    nodes: &[Node],
    leaves: &[(i32, usize)],
) -> String {
    let mut lines = vec![
        (None, Line::Plain(format!("r0 = {a}"))),
        (
            None,
            Line::Plain(if wide_mask {
                format!("r0 &= {}", MASKS[mask])
            } else {
                format!("w0 &= {}", MASKS[mask])
            }),
        ),
        (None, Line::Plain("r1 = 0".into())),
        (None, Line::Plain("r9 = 0".into())),
    ];
    for (i, &(c, imm, narrow, to)) in nodes.iter().enumerate() {
        let r = if narrow { "w0" } else { "r0" };
        lines.push((
            Some(Label::Node(i)),
            Line::Jump(format!("if {r} {} {imm}", CONDS[c]), to),
        ));
    }
    for (i, &(k, back)) in leaves.iter().enumerate() {
        lines.push((Some(Label::Leaf(i)), Line::Plain(format!("r1 += {k}"))));
        lines.push((None, Line::Plain(format!("r0 += {}", k & 7))));
        lines.push((None, Line::Plain("r9 += 1".into())));
        let back = Label::Node(1 + back % (nodes.len() - 1));
        lines.push((None, Line::Jump("if r9 < 3".into(), back)));
        lines.push((None, Line::Jump(String::new(), Label::End)));
    }
    lines.push((Some(Label::End), Line::Plain("r1 <<= 16".into())));
    lines.push((None, Line::Plain("r0 ^= r1".into())));
    lines.push((None, Line::Plain("exit".into())));
    assemble_lines(&lines)
}

/// Nodes whose jumps go forward (to a later node or a leaf); the last
/// node falls through into leaf 0.
fn tree(n_leaves: usize) -> impl Strategy<Value = Vec<Node>> {
    proptest::collection::vec(
        (
            0..CONDS.len(),
            -3i32..70,
            any::<bool>(),
            any::<u16>(),
            any::<bool>(),
        ),
        2..12,
    )
    .prop_map(move |raw| {
        let n = raw.len();
        raw.into_iter()
            .enumerate()
            .map(|(i, (c, imm, narrow, pick, to_leaf))| {
                let to = if to_leaf || i + 1 == n {
                    Label::Leaf(pick as usize % n_leaves)
                } else {
                    Label::Node(i + 1 + pick as usize % (n - i - 1))
                };
                (c, imm, narrow, to)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(800))]

    #[test]
    fn switch_tables_match_the_interpreter(
        a in any::<i32>(), mask in 0..MASKS.len(), wide_mask in any::<bool>(),
        (nodes, leaves) in (2usize..8).prop_flat_map(|n| {
            (tree(n), proptest::collection::vec((-50i32..50, any::<usize>()), n))
        }),
    ) {
        let text = program(a, mask, wide_mask, &nodes, &leaves);
        support::agree_without_memory(&text)?;
        let insns = assemble(&text).expect("assembles");
        prop_assert!(ebee_jit::compile_for_target(&insns, "aarch64", false).is_ok());
    }
}
