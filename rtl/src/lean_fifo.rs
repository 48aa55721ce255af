//! A first-word-fall-through FIFO on block RAM without read-during-write bypass logic.
//!
//! rust-hdl's `SynchronousFIFO` sits on its `RAM`, whose Verilog makes yosys add bypass
//! registers and multiplexers so that a same-cycle read of the written address returns the
//! old word (on iCE40, 72 flip-flops and 37 LUTs for 64 × 32 bits). A FIFO never needs that:
//! this one reads the RAM only at addresses written at least one cycle earlier.

use rust_hdl::prelude::*;

/// Simple dual-port RAM of 2^N words of W bits with a registered read, for FIFOs.
///
/// Unlike rust-hdl's `RAM`, the Verilog carries `(* no_rw_check *)`: a read of the address
/// written in the same cycle is undefined, so yosys maps it to block RAM without the bypass
/// registers and multiplexers it otherwise adds (72 flip-flops and 37 LUTs for 64 x 32 bits on
/// iCE40). The simulation returns the inverted old word in that case, so a FIFO that used such
/// a read would fail its tests.
#[derive(LogicBlock)]
pub struct FifoRam<const W: usize, const N: usize> {
    pub clock: Signal<In, Clock>,
    pub read_address: Signal<In, Bits<N>>,
    pub read_data: Signal<Out, Bits<W>>,
    pub write_address: Signal<In, Bits<N>>,
    pub write_data: Signal<In, Bits<W>>,
    pub write_enable: Signal<In, Bit>,
    _mem: Vec<Bits<W>>,
}

impl<const W: usize, const N: usize> Default for FifoRam<W, N> {
    fn default() -> Self {
        FifoRam {
            clock: Default::default(),
            read_address: Default::default(),
            read_data: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            write_enable: Default::default(),
            _mem: vec![Bits::default(); 1 << N],
        }
    }
}

impl<const W: usize, const N: usize> Logic for FifoRam<W, N> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let ra = self.read_address.val().index();
            let wa = self.write_address.val().index();
            let old = self._mem[ra];
            let write = self.write_enable.val();
            self.read_data.next = if write && wa == ra { !old } else { old };
            if write {
                self._mem[wa] = self.write_data.val();
            }
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
(* no_rw_check *)
reg [{msb}:0] mem[0:{last}];
always @(posedge clock) begin
    read_data <= mem[read_address];
    if (write_enable) begin
        mem[write_address] <= write_data;
    end
end
",
            msb = W - 1,
            last = (1usize << N) - 1
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "fifo_ram".into(),
            clock: "clock".into(),
            inputs: vec![
                "read_address".into(),
                "write_address".into(),
                "write_data".into(),
                "write_enable".into(),
            ],
            outputs: vec!["read_data".into()],
        }]
    }
}

/// First-word-fall-through FIFO of 2^N words (NP1 = N + 1) on a [`FifoRam`].
///
/// `data_out` is the oldest word while `empty` is low; `read` pops it. A written word becomes
/// visible two cycles after its write cycle (the write pointer is seen one cycle late so that
/// the RAM is never read at the address being written). Writing while `full` is ignored.
#[derive(LogicBlock)]
pub struct LeanFifo<const W: usize, const N: usize, const NP1: usize> {
    pub clock: Signal<In, Clock>,
    pub write: Signal<In, Bit>,
    pub data_in: Signal<In, Bits<W>>,
    pub full: Signal<Out, Bit>,
    pub read: Signal<In, Bit>,
    pub data_out: Signal<Out, Bits<W>>,
    pub empty: Signal<Out, Bit>,
    ram: FifoRam<W, N>,
    wptr: DFF<Bits<NP1>>,
    wptr_seen: DFF<Bits<NP1>>,
    rptr: DFF<Bits<NP1>>,
    is_empty: Signal<Local, Bit>,
    is_full: Signal<Local, Bit>,
    rnext: Signal<Local, Bits<NP1>>,
    wrap: Constant<Bits<NP1>>,
}

impl<const W: usize, const N: usize, const NP1: usize> Default for LeanFifo<W, N, NP1> {
    fn default() -> Self {
        assert_eq!(N + 1, NP1);
        LeanFifo {
            clock: Default::default(),
            write: Default::default(),
            data_in: Default::default(),
            full: Default::default(),
            read: Default::default(),
            data_out: Default::default(),
            empty: Default::default(),
            ram: Default::default(),
            wptr: Default::default(),
            wptr_seen: Default::default(),
            rptr: Default::default(),
            is_empty: Default::default(),
            is_full: Default::default(),
            rnext: Default::default(),
            wrap: Constant::new(((1u64 << N) as LiteralType).into()),
        }
    }
}

impl<const W: usize, const N: usize, const NP1: usize> Logic for LeanFifo<W, N, NP1> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, wptr, wptr_seen, rptr);
        self.ram.clock.next = self.clock.val();
        self.is_empty.next = self.rptr.q.val() == self.wptr_seen.q.val();
        self.is_full.next = (self.wptr.q.val() ^ self.rptr.q.val()) == self.wrap.val();
        self.empty.next = self.is_empty.val();
        self.full.next = self.is_full.val();
        self.wptr_seen.d.next = self.wptr.q.val();
        self.ram.write_address.next = bit_cast::<N, NP1>(self.wptr.q.val());
        self.ram.write_data.next = self.data_in.val();
        self.ram.write_enable.next = self.write.val() & !self.is_full.val();
        if self.write.val() & !self.is_full.val() {
            self.wptr.d.next = self.wptr.q.val() + 1;
        }
        // Read ahead on a pop so that data_out shows the next word in the next cycle.
        self.rnext.next = self.rptr.q.val() + 1;
        self.ram.read_address.next = bit_cast::<N, NP1>(self.rptr.q.val());
        if self.read.val() & !self.is_empty.val() {
            self.rptr.d.next = self.rnext.val();
            self.ram.read_address.next = bit_cast::<N, NP1>(self.rnext.val());
        }
        self.data_out.next = self.ram.read_data.val();
    }
}

// Layout of the internal meta word queued per command (not visible outside this block):
// [12:0] length, [13] first, [14] last, [15] user, [23:16] epoch, [29:24] counter slot,
// [31:30] byte offset of the payload in its first memory word.

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench, XorShift};

    #[test]
    fn lean_fifo_order_flags_and_latency() {
        let mut b = Bench::new(LeanFifo::<32, 2, 3>::default(), |f| &mut f.clock);
        let mut model = VecDeque::new();
        let mut rng = XorShift(7);
        let mut next = 100u32;
        // Words written in cycle t may be popped from cycle t + 2 on.
        let mut visible_at = VecDeque::new();
        for cycle in 0..2000u64 {
            let write = rng.chance(60);
            let read = rng.chance(50);
            b.uut.write.next = write;
            b.uut.data_in.next = (next as u64).into();
            b.uut.read.next = read;
            b.settle();
            let visible = visible_at.iter().filter(|&&t| t <= cycle).count();
            assert_eq!(b.uut.empty.val(), visible == 0, "empty at {cycle}");
            assert_eq!(b.uut.full.val(), model.len() == 4, "full at {cycle}");
            // A write while full is dropped, even if a word is popped in the same cycle.
            let accept = write && model.len() < 4;
            if !b.uut.empty.val() {
                assert_eq!(
                    b.uut.data_out.val().to_u64() as u32,
                    model[0],
                    "head at {cycle}"
                );
                if read {
                    model.pop_front();
                    visible_at.pop_front();
                }
            }
            if accept {
                model.push_back(next);
                visible_at.push_back(cycle + 2);
                next += 1;
            }
            b.step();
        }
    }

    #[test]
    fn verilog_is_clean() {
        yosys_check("lean_fifo", LeanFifo::<32, 4, 5>::default());
        lint_check("lean_fifo", LeanFifo::<32, 4, 5>::default());
    }
}
