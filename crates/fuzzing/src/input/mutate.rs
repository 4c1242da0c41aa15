//! The `seq` target's op-level mutator (libFuzzer's custom mutator).
//!
//! Invariants: deterministic in its seed, as libFuzzer requires; every
//! output decodes to at most [`MAX_SEQ_OPS`] ops. Lock order: none.

use super::seq::ops_back_to_back;
use super::MAX_SEQ_OPS;
use crate::ops::Op;
use arbitrary::{Arbitrary, Unstructured};

/// The `seq` target's custom mutator (libFuzzer's `LLVMFuzzerCustomMutator`
/// through `fuzz_mutator!`): most mutations act on whole ops — insert a
/// random op, delete, replace or duplicate one, swap two, re-pick the
/// machine knobs, or start over from a fresh random sequence — and the
/// rest go to libFuzzer's byte mutator
/// (`byte_mutate`). Byte mutations alone keep op sequences short and
/// repetitive (runs of equal bytes decode to the same op again and again),
/// so the seed bugs' three- to seven-op sequences took minutes to appear;
/// the op-level ones keep every input a well-formed sequence. Deterministic
/// in `seed`, as libFuzzer requires. Returns the new size.
pub fn mutate_seq(data: &mut [u8], size: usize, max_size: usize, seed: u32, byte_mutate: impl FnOnce(&mut [u8], usize, usize) -> usize) -> usize {
    let mut rng = crate::rng::SplitMix64(seed as u64 ^ 0x5eed_0f0b5);
    let size = size.min(data.len());
    let mut u = Unstructured::new(&data[..size]);
    let mut knobs = u8::arbitrary(&mut u).unwrap_or(0);
    let mut ops = ops_back_to_back(&mut u, MAX_SEQ_OPS);
    let random_op = |rng: &mut crate::rng::SplitMix64| {
        let bytes: Vec<u8> = (0..4).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
        Op::arbitrary(&mut Unstructured::new(&bytes)).unwrap_or(Op::DrainAll {})
    };
    let pos = |rng: &mut crate::rng::SplitMix64, n: usize| (rng.next_u64() % (n as u64).max(1)) as usize;
    match rng.next_u64() % 12 {
        0 | 1 if ops.len() < MAX_SEQ_OPS => {
            let at = pos(&mut rng, ops.len() + 1);
            let op = random_op(&mut rng);
            ops.insert(at, op);
        }
        2 if !ops.is_empty() => {
            let at = pos(&mut rng, ops.len());
            ops.remove(at);
        }
        3 if !ops.is_empty() => {
            let at = pos(&mut rng, ops.len());
            ops[at] = random_op(&mut rng);
        }
        4 if !ops.is_empty() && ops.len() < MAX_SEQ_OPS => {
            let from = pos(&mut rng, ops.len());
            let to = pos(&mut rng, ops.len() + 1);
            let op = ops[from].clone();
            ops.insert(to, op);
        }
        5 if ops.len() > 1 => {
            let (a, b) = (pos(&mut rng, ops.len()), pos(&mut rng, ops.len()));
            ops.swap(a, b);
        }
        6 => knobs = rng.next_u64() as u8,
        // A fresh random input now and then: coverage guidance keeps what
        // reached new code, but a sequence whose steps add little coverage
        // each (plug, begin an unplug, a walker's get) is found sooner by
        // sampling whole random sequences, as the stable mode does.
        7..=9 => {
            knobs = rng.next_u64() as u8;
            ops = (0..MAX_SEQ_OPS).map(|_| random_op(&mut rng)).collect();
        }
        _ => return byte_mutate(data, size, max_size),
    }
    let mut out = vec![knobs];
    for op in &ops {
        let mut one = Vec::new();
        crate::ops::Encode::encode(op, &mut one);
        if out.len() + one.len() > max_size.min(data.len()) {
            break;
        }
        out.extend(one);
    }
    let n = out.len().min(data.len());
    data[..n].copy_from_slice(&out[..n]);
    n
}


/// The `conc` target's custom mutator: whole-op edits of the setup and the
/// threads (insert, delete, replace), and edits of the schedule that keep
/// it meaningful — add or drop a preemption, move one by a few preemptible
/// points (a nearby shared access or named point), retarget it — or a new
/// thread; the rest go to libFuzzer's byte mutator. Deterministic in
/// `seed`. Returns the new size.
pub fn mutate_conc(data: &mut [u8], size: usize, max_size: usize, seed: u32, byte_mutate: impl FnOnce(&mut [u8], usize, usize) -> usize) -> usize {
    use super::{conc::decode, MAX_PREEMPTIONS, MAX_SETUP_OPS, MAX_THREAD_OPS};
    let mut rng = crate::rng::SplitMix64(seed as u64 ^ 0x0c05_eed0_f0b5);
    let size = size.min(data.len());
    let mut input = decode(&data[..size]);
    input.threads.truncate(4);
    input.preempts.truncate(MAX_PREEMPTIONS);
    let random_op = |rng: &mut crate::rng::SplitMix64| {
        let bytes: Vec<u8> = (0..4).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
        Op::arbitrary(&mut Unstructured::new(&bytes)).unwrap_or(Op::DrainAll {})
    };
    let pos = |rng: &mut crate::rng::SplitMix64, n: usize| (rng.next_u64() % (n as u64).max(1)) as usize;
    // A list to edit: 0 the setup, 1.. the threads.
    let nlists = 1 + input.threads.len();
    let l = pos(&mut rng, nlists);
    let cap = if l == 0 { MAX_SETUP_OPS } else { MAX_THREAD_OPS };
    let list = if l == 0 { &mut input.setup } else { &mut input.threads[l - 1] };
    let np = input.preempts.len();
    match rng.next_u64() % 14 {
        0 | 1 if list.len() < cap => {
            let at = pos(&mut rng, list.len() + 1);
            list.insert(at, random_op(&mut rng));
        }
        2 if !list.is_empty() => {
            let at = pos(&mut rng, list.len());
            list.remove(at);
        }
        3 if !list.is_empty() => {
            let at = pos(&mut rng, list.len());
            list[at] = random_op(&mut rng);
        }
        // Most races need a preemption or two early in a run: new points
        // are drawn from a range that halves at random, down to 0..16.
        4 if np < MAX_PREEMPTIONS => {
            let range = 16u64 << (rng.next_u64() % 7);
            input.preempts.push(((rng.next_u64() % range) as u16, rng.next_u64() as u8));
        }
        5 if np > 0 => {
            let at = pos(&mut rng, np);
            input.preempts.remove(at);
        }
        6 | 7 if np > 0 => {
            let at = pos(&mut rng, np);
            let delta = 1 + (rng.next_u64() % 8) as i32;
            let p = &mut input.preempts[at].0;
            *p = if rng.next_u64().is_multiple_of(2) { p.saturating_add(delta as u16) } else { p.saturating_sub(delta as u16) };
        }
        8 if np > 0 => {
            let at = pos(&mut rng, np);
            input.preempts[at].1 = rng.next_u64() as u8;
        }
        9 => input.knobs = rng.next_u64() as u8,
        10 if input.threads.len() < 4 => input.threads.push((0..1 + pos(&mut rng, MAX_THREAD_OPS)).map(|_| random_op(&mut rng)).collect()),
        _ => return byte_mutate(data, size, max_size),
    }
    while input.threads.len() < 2 {
        input.threads.push(Vec::new());
    }
    let out = input.encode();
    if out.len() > max_size.min(data.len()) {
        return byte_mutate(data, size, max_size);
    }
    data[..out.len()].copy_from_slice(&out);
    out.len()
}
