//! The operation language of the fuzz targets and scenarios: one [`Op`] per
//! path the model has, each with operands that *resolve against the current
//! state* (an index into the live allocations, the mapped pages, the blocks
//! in the right state, modulo their count), so that nearly every input does
//! something meaningful and a shrunk input keeps its meaning.
//!
//! * [`table`]: the op table, one entry per op; it generates [`Op`],
//!   [`Resolved`], the text form (`alloc cpu=1 order=2 mt=movable`; fields
//!   at their default are left out), the byte form and the CPU operand.
//! * `operand`: the operand types ([`Order`], [`Count`], [`Mt`],
//!   [`Target`]) and their text ([`Field`]) and byte ([`Encode`]) forms.
//! * `result`: what an applied op gives ([`OpResult`], [`Applied`]).
//!
//! Raw fuzz bytes are *not* a stable format (they follow the variant
//! order); scenarios (`*.ops`) are.
//!
//! Invariants: every field value that decodes is valid; operand indices
//! may exceed the population they index. Lock order: none (plain data).

mod define;
mod operand;
mod result;
pub mod table;
#[cfg(test)]
mod tests;

pub use operand::{variant_u32, Count, Encode, Field, Mt, Order, Target};
pub use result::{Applied, OpError, OpResult};
pub use table::{Op, Resolved};

impl Op {
    /// The CPU operand (0 for ops that name none).
    pub fn cpu(&self) -> u8 {
        self.clone().cpu_mut().map_or(0, |c| *c)
    }

    /// The same op with its CPU operand cleared (a thread of a concurrent
    /// scenario always acts for its own CPU).
    pub fn without_cpu(&self) -> Op {
        let mut o = self.clone();
        if let Some(cpu) = o.cpu_mut() {
            *cpu = 0;
        }
        o
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}
