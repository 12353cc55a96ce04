//! The control-flow graph and the structural checks that need no values:
//! jump targets in range and not inside `lddw`, functions (subprograms)
//! found from local calls, no jump leaving its function, every function
//! ending in `exit` or `goto`, every instruction reachable.

use ebee_isa::{CallTarget, Imm64Kind, Insn};

/// A structural problem, at `pc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfgError {
    /// The instruction at fault.
    pub pc: usize,
    /// What is wrong.
    pub message: String,
}

/// The program's functions and control flow.
#[derive(Debug, Clone)]
pub struct Cfg {
    /// First pc of each function, ascending; `subprogs[0] == 0`.
    pub subprogs: Vec<usize>,
    /// Whether the state at this pc is worth remembering to prune later
    /// paths (jump targets, conditional jumps, returns from calls).
    pub prune_point: Vec<bool>,
    /// Number of instruction slots.
    pub len: usize,
}

fn err(pc: usize, message: String) -> CfgError {
    CfgError { pc, message }
}

impl Cfg {
    /// Check the program's structure and build its graph.
    pub fn build(insns: &[Insn]) -> Result<Cfg, CfgError> {
        let n = insns.len();
        if n == 0 {
            return Err(err(0, "the program is empty".into()));
        }
        if n > 1_000_000 {
            return Err(err(
                0,
                format!("the program has {n} instructions, more than 1000000"),
            ));
        }
        // Targets in range and not inside lddw.
        let mut subprogs = vec![0usize];
        for (pc, insn) in insns.iter().enumerate() {
            if matches!(insn, Insn::LdImm64Tail)
                && !matches!(
                    pc.checked_sub(1).map(|p| &insns[p]),
                    Some(Insn::LdImm64 { .. })
                )
            {
                return Err(err(
                    pc,
                    "the second half of lddw appears without its first half".into(),
                ));
            }
            if let Insn::LdImm64 { .. } = insn {
                if !matches!(insns.get(pc + 1), Some(Insn::LdImm64Tail)) {
                    return Err(err(pc, "lddw is missing its second half".into()));
                }
            }
            if let Some(t) = insn.branch_target(pc) {
                if t < 0 || t >= n as i64 {
                    return Err(err(pc, format!("jump out of range from insn {pc} to {t}")));
                }
                if matches!(insns[t as usize], Insn::LdImm64Tail) {
                    return Err(err(pc, format!("jump to the middle of lddw at insn {t}")));
                }
                let is_func = matches!(
                    insn,
                    Insn::Call(CallTarget::Local(_))
                        | Insn::LdImm64 {
                            kind: Imm64Kind::Func,
                            ..
                        }
                );
                if is_func {
                    subprogs.push(t as usize);
                }
            }
        }
        subprogs.sort_unstable();
        subprogs.dedup();
        let func_of = |pc: usize| subprogs.partition_point(|&s| s <= pc) - 1;
        // Jumps stay within their function; functions end in exit or goto.
        for (i, &start) in subprogs.iter().enumerate() {
            let end = subprogs.get(i + 1).copied().unwrap_or(n);
            let last = if matches!(insns[end - 1], Insn::LdImm64Tail) {
                end - 2
            } else {
                end - 1
            };
            if !matches!(insns[last], Insn::Exit | Insn::Ja { .. }) {
                return Err(err(last, "last insn is not an exit or jmp: execution would fall off the end of the function".into()));
            }
            for (pc, insn) in insns.iter().enumerate().take(end).skip(start) {
                if matches!(
                    insn,
                    Insn::Ja { .. } | Insn::Jump { .. } | Insn::MayGoto { .. }
                ) {
                    let t = insn.branch_target(pc).unwrap_or(0) as usize;
                    if func_of(t) != i {
                        return Err(err(pc, format!("jump out of range from insn {pc} to {t}: it leaves the function starting at {start}")));
                    }
                }
            }
        }
        // Reachability from the entry (calls and function addresses reach functions).
        let mut seen = vec![false; n];
        let mut stack = vec![0usize];
        while let Some(pc) = stack.pop() {
            if seen[pc] {
                continue;
            }
            seen[pc] = true;
            let insn = &insns[pc];
            let mut succ = vec![];
            match insn {
                Insn::Exit => {}
                Insn::Ja { .. } => succ.push(insn.branch_target(pc).unwrap_or(0) as usize),
                Insn::Jump { .. } | Insn::MayGoto { .. } => {
                    succ.push(pc + 1);
                    succ.push(insn.branch_target(pc).unwrap_or(0) as usize);
                }
                Insn::LdImm64 { .. } => {
                    succ.push(pc + 2);
                    if let Some(t) = insn.branch_target(pc) {
                        succ.push(t as usize);
                    }
                    seen[pc + 1] = true;
                }
                Insn::Call(CallTarget::Local(_)) => {
                    succ.push(pc + 1);
                    succ.push(insn.branch_target(pc).unwrap_or(0) as usize);
                }
                _ => succ.push(pc + 1),
            }
            for s in succ {
                if s >= n {
                    return Err(err(pc, "execution falls off the end of the program".into()));
                }
                if !seen[s] {
                    stack.push(s);
                }
            }
        }
        if let Some(pc) = seen.iter().position(|s| !s) {
            return Err(err(pc, format!("unreachable insn {pc}")));
        }
        let mut prune_point = vec![false; n];
        for (pc, insn) in insns.iter().enumerate() {
            match insn {
                Insn::Jump { .. } | Insn::MayGoto { .. } => {
                    prune_point[pc] = true;
                    prune_point[insn.branch_target(pc).unwrap_or(0) as usize] = true;
                }
                Insn::Ja { .. } => prune_point[insn.branch_target(pc).unwrap_or(0) as usize] = true,
                Insn::Call(_) | Insn::CallX { .. } => {
                    prune_point[pc] = true;
                    if pc + 1 < n {
                        prune_point[pc + 1] = true;
                    }
                }
                _ => {}
            }
        }
        Ok(Cfg {
            subprogs,
            prune_point,
            len: n,
        })
    }

    /// The index of the function containing `pc`.
    pub fn func_of(&self, pc: usize) -> usize {
        self.subprogs.partition_point(|&s| s <= pc) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebee_isa::{Operand, Reg, Width};

    #[test]
    fn structure() {
        let mov = Insn::Alu {
            width: Width::W64,
            op: ebee_isa::AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(0),
        };
        assert!(Cfg::build(&[mov, Insn::Exit]).is_ok());
        assert!(Cfg::build(&[mov]).is_err());
        assert!(Cfg::build(&[]).is_err());
        let e = Cfg::build(&[mov, Insn::Exit, mov, Insn::Exit]).unwrap_err();
        assert_eq!(e.pc, 2);
        let e = Cfg::build(&[
            Insn::Ja {
                off: 5,
                long: false,
            },
            Insn::Exit,
        ])
        .unwrap_err();
        assert_eq!(e.pc, 0);
        let c = Cfg::build(&[
            Insn::Call(CallTarget::Local(1)),
            Insn::Exit,
            mov,
            Insn::Exit,
        ])
        .unwrap();
        assert_eq!(c.subprogs, vec![0, 2]);
    }
}
