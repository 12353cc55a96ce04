//! How many stack frames a run of a program can reach, so a run zeroes
//! only those instead of all eight (4 KiB, a fifth of the time of a short
//! XDP program).
//!
//! The interpreter zeroes frame 0 before a run and each deeper frame when
//! a call first reaches it. Zeroing up front the frames the call graph can
//! reach gives the same bytes: no frame is written before a call reaches
//! it. A tail-call target runs in its caller's frame and may go deeper;
//! the tail-call path zeroes what it needs then (`RunState`).

use crate::control_flow::{function_shape, insn_pcs};
use ebee_isa::{CallTarget, Insn};
use ebee_runtime::MAX_CALL_FRAMES;
use std::collections::HashMap;

/// The frames a run of `insns` can use: 1 + the longest chain of local
/// calls from pc 0, at most [`MAX_CALL_FRAMES`]; all of them when the call
/// graph has a cycle (recursion, stopped by the depth limit) or an
/// indirect `callx`. Callbacks, which a helper runs a frame deeper from
/// wherever it is called, zero what they need when they run
/// (`JitRun::run_callback`).
pub(crate) fn frames_needed(insns: &[Insn]) -> usize {
    let mut depth = HashMap::new();
    frames_from(insns, 0, &mut depth, &mut Vec::new())
}

/// Frames a call of the function at `entry` can use; `active` is the
/// chain of functions being measured (a repeat is a cycle).
fn frames_from(
    insns: &[Insn],
    entry: usize,
    known: &mut HashMap<usize, usize>,
    active: &mut Vec<usize>,
) -> usize {
    if let Some(&d) = known.get(&entry) {
        return d;
    }
    if active.contains(&entry) || active.len() >= MAX_CALL_FRAMES {
        return MAX_CALL_FRAMES;
    }
    active.push(entry);
    let shape = function_shape(insns, entry);
    let mut deepest_callee = 0;
    'blocks: for block in shape.blocks.values() {
        for pc in insn_pcs(insns, block.start, block.end) {
            let insn = insns[pc];
            match insn {
                Insn::CallX { .. } => {
                    deepest_callee = MAX_CALL_FRAMES;
                    break 'blocks;
                }
                Insn::Call(CallTarget::Local(_)) => {
                    let target = insn.branch_target(pc).unwrap_or(-1);
                    let d = if target >= 0 && (target as usize) < insns.len() {
                        frames_from(insns, target as usize, known, active)
                    } else {
                        // A call off the program faults before it runs.
                        0
                    };
                    deepest_callee = deepest_callee.max(d);
                }
                _ => {}
            }
        }
    }
    active.pop();
    let d = (1 + deepest_callee).min(MAX_CALL_FRAMES);
    known.insert(entry, d);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(src: &str) -> usize {
        frames_needed(&ebee_isa::assemble(src).unwrap())
    }

    #[test]
    fn frames_follow_the_call_graph() {
        assert_eq!(frames("r0 = 0\nexit"), 1);
        // main -> f -> g
        let chain = "call f\nexit\nf:\ncall g\nexit\ng:\nr0 = 1\nexit";
        assert_eq!(frames(chain), 3);
        // main calls f twice and g once; g calls f: depth 3.
        let diamond = "call f\ncall g\ncall f\nexit\nf:\nr0 = 1\nexit\ng:\ncall f\nexit";
        assert_eq!(frames(diamond), 3);
        // Recursion: every frame.
        assert_eq!(frames("call f\nexit\nf:\ncall f\nexit"), MAX_CALL_FRAMES);
        // Indirect calls: every frame.
        assert_eq!(frames("r1 = 0\ncallx r1\nexit"), MAX_CALL_FRAMES);
        // A call in unreachable code does not count.
        assert_eq!(frames("r0 = 0\nexit\ncall f\nexit\nf:\nexit"), 1);
    }
}
