//! A 16-entry first-word-fall-through FIFO whose entries are wider than one block RAM row.
//!
//! An iCE40 block RAM is at most 16 bits wide and 256 rows deep, so a 16-entry FIFO of 64-bit
//! words built the usual way ([`LeanFifo`](crate::lean_fifo::LeanFifo)) takes four block RAMs
//! and uses 16 of their 256 rows. A `RowFifo` stores each entry in `rows` consecutive rows of
//! `ceil(W / rows)` bits instead: 64 bits in four 16-bit rows take one block RAM. The price is
//! bandwidth and a few registers:
//!
//! * **Write**: an accepted entry occupies the write port for `rows` cycles (row 0 from
//!   `data_in` in the accepting cycle, the others from a staging register), so `full` is also
//!   high for the `rows - 1` cycles after an accepted write. Producers use `write & !full`
//!   as a valid/ready handshake (a write while `full` is ignored).
//! * **Read**: the head entry is fetched row by row into registers; the last row is read
//!   straight from the RAM output (the RAM keeps re-reading it). An entry written in cycle `t`
//!   is at the head from cycle `t + rows + 1` (like a `LeanFifo`, `t + 2`, when `rows == 1`);
//!   after a pop the next entry is at the head `rows` cycles later.
//!
//! A producer that holds the bits of rows 1.. on `data_in` for the `rows - 1` cycles after an
//! accepted write (the doorbell FIFO: they come from a register the host cannot change sooner)
//! takes [`RowFifo::held_input`]: the rows are written from `data_in` and the staging register
//! (one flip-flop per bit, a logic cell each on iCE40) goes away.
//!
//! The RAM never reads a row in the cycle it is written (the fetch trails the writer by at
//! least one cycle), so it is a [`PacketRam::without_collisions`]: no bypass logic.

use crate::packet_ram::{PacketRam, PACKET_RAM_ADDR_BITS};
use rust_hdl::prelude::*;

/// Entries of every `RowFifo`.
pub const ROW_FIFO_DEPTH: usize = 16;
/// Most rows per entry.
pub const ROW_FIFO_MAX_ROWS: usize = 4;

#[derive(LogicBlock)]
pub struct RowFifo<const W: usize> {
    pub clock: Signal<In, Clock>,
    pub write: Signal<In, Bit>,
    pub data_in: Signal<In, Bits<W>>,
    /// No write is accepted this cycle (the FIFO is full or still writing the last entry).
    pub full: Signal<Out, Bit>,
    pub read: Signal<In, Bit>,
    pub data_out: Signal<Out, Bits<W>>,
    pub empty: Signal<Out, Bit>,
    /// `!empty` (so that a replay can qualify `data_out` with it).
    pub valid: Signal<Out, Bit>,
    ram: PacketRam,
    // Write side.
    walloc: DFF<Bits<5>>,
    wrow: DFF<Bits<2>>,
    stage: DFF<Bits<W>>,
    is_full: Signal<Local, Bit>,
    busy: Signal<Local, Bit>,
    accept: Signal<Local, Bit>,
    wentry: Signal<Local, Bits<5>>,
    // Read side.
    rptr: DFF<Bits<5>>,
    fetching: DFF<Bit>,
    frow: DFF<Bits<2>>,
    arr: DFF<Bit>,
    arr_last: DFF<Bit>,
    hvalid: DFF<Bit>,
    hold: DFF<Bits<6>>,
    r0: DFF<Bits<32>>,
    r1: DFF<Bits<32>>,
    r2: DFF<Bits<32>>,
    valid_now: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    rnext: Signal<Local, Bits<5>>,
    rptr1: Signal<Local, Bits<5>>,
    more_after_take: Signal<Local, Bit>,
    more_now: Signal<Local, Bit>,
    start: Signal<Local, Bit>,
    raddr: Signal<Local, Bits<6>>,
    // Shape.
    row_bits: Constant<Bits<8>>,
    last_shift: Constant<Bits<8>>,
    last_row: Constant<Bits<2>>,
    multi: Constant<Bit>,
    rows3: Constant<Bit>,
    rows4: Constant<Bit>,
    half: Constant<Bits<5>>,
    held: Constant<Bit>,
    _rows: usize,
}

impl<const W: usize> RowFifo<W> {
    /// A FIFO of 16 entries of `W` bits, each stored in `rows` RAM rows (1..=4).
    pub fn new(rows: usize) -> Self {
        assert!(
            (1..=ROW_FIFO_MAX_ROWS).contains(&rows),
            "RowFifo rows {rows}"
        );
        let row_bits = W.div_ceil(rows);
        assert!(
            row_bits <= 32,
            "RowFifo<{W}> needs more than 32 bits per row"
        );
        RowFifo {
            clock: Default::default(),
            write: Default::default(),
            data_in: Default::default(),
            full: Default::default(),
            read: Default::default(),
            data_out: Default::default(),
            empty: Default::default(),
            valid: Default::default(),
            // Row addresses are 6-bit fields: always in range.
            ram: PacketRam::without_collisions(ROW_FIFO_DEPTH * ROW_FIFO_MAX_ROWS)
                .narrow(row_bits)
                .in_range_reads(),
            walloc: Default::default(),
            wrow: Default::default(),
            stage: Default::default(),
            is_full: Default::default(),
            busy: Default::default(),
            accept: Default::default(),
            wentry: Default::default(),
            rptr: Default::default(),
            fetching: Default::default(),
            frow: Default::default(),
            arr: Default::default(),
            arr_last: Default::default(),
            hvalid: Default::default(),
            hold: Default::default(),
            r0: Default::default(),
            r1: Default::default(),
            r2: Default::default(),
            valid_now: Default::default(),
            take: Default::default(),
            rnext: Default::default(),
            rptr1: Default::default(),
            more_after_take: Default::default(),
            more_now: Default::default(),
            start: Default::default(),
            raddr: Default::default(),
            row_bits: Constant::new((row_bits as u64).into()),
            last_shift: Constant::new((((rows - 1) * row_bits) as u64).into()),
            last_row: Constant::new(((rows - 1) as u64).into()),
            multi: Constant::new(rows > 1),
            rows3: Constant::new(rows >= 3),
            rows4: Constant::new(rows >= 4),
            half: Constant::new((ROW_FIFO_DEPTH as u64).into()),
            held: Constant::new(false),
            _rows: rows,
        }
    }

    /// The producer holds `data_in`'s bits above row 0 for the `rows - 1` cycles after an
    /// accepted write (bits of row 0 may change): rows 1.. are written from `data_in`, with no
    /// staging register.
    pub fn held_input(mut self) -> Self {
        self.held = Constant::new(true);
        self
    }

    /// Rows per entry.
    pub fn rows(&self) -> usize {
        self._rows
    }
}

impl<const W: usize> Logic for RowFifo<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, walloc, wrow, stage, rptr, fetching, frow, arr, arr_last, hvalid, hold,
            r0, r1, r2
        );
        self.ram.clock.next = self.clock.val();

        // ---- Write: row 0 now, the other rows from `stage` in the next cycles.
        self.busy.next = self.wrow.q.val().any();
        self.is_full.next = (self.walloc.q.val() ^ self.rptr.q.val()) == self.half.val();
        self.full.next = self.is_full.val() | self.busy.val();
        self.accept.next = self.write.val() & !self.is_full.val() & !self.busy.val();
        self.wentry.next = self.walloc.q.val() - 1;
        self.ram.write_enable.next = false;
        self.ram.write_address.next = bit_cast::<PACKET_RAM_ADDR_BITS, 6>(
            (bit_cast::<6, 4>(bit_cast::<4, 5>(self.wentry.val())) << 2)
                | bit_cast::<6, 2>(self.wrow.q.val()),
        );
        self.ram.write_data.next = bit_cast::<32, W>(self.stage.q.val());
        if self.held.val() {
            self.ram.write_data.next = bit_cast::<32, W>(self.data_in.val() >> self.row_bits.val());
            if self.wrow.q.val() == 2 {
                self.ram.write_data.next = bit_cast::<32, W>(
                    self.data_in.val() >> (self.row_bits.val() + self.row_bits.val()),
                );
            }
            if self.wrow.q.val() == 3 {
                self.ram.write_data.next = bit_cast::<32, W>(
                    self.data_in.val()
                        >> (self.row_bits.val() + self.row_bits.val() + self.row_bits.val()),
                );
            }
        }
        if self.accept.val() {
            self.ram.write_enable.next = true;
            self.ram.write_address.next = bit_cast::<PACKET_RAM_ADDR_BITS, 6>(
                bit_cast::<6, 4>(bit_cast::<4, 5>(self.walloc.q.val())) << 2,
            );
            self.ram.write_data.next = bit_cast::<32, W>(self.data_in.val());
            if !self.held.val() {
                self.stage.d.next = self.data_in.val() >> self.row_bits.val();
            }
            self.walloc.d.next = self.walloc.q.val() + 1;
            if self.multi.val() {
                self.wrow.d.next = 1.into();
            }
        } else if self.busy.val() {
            self.ram.write_enable.next = true;
            if !self.held.val() {
                self.stage.d.next = self.stage.q.val() >> self.row_bits.val();
            }
            self.wrow.d.next = self.wrow.q.val() + 1;
            if self.wrow.q.val() == self.last_row.val() {
                self.wrow.d.next = 0.into();
            }
        }

        // ---- Read: fetch the head entry row by row once the head is free.
        self.valid_now.next = self.hvalid.q.val() | self.arr_last.q.val();
        self.empty.next = !self.valid_now.val();
        self.valid.next = self.valid_now.val();
        self.take.next = self.read.val() & self.valid_now.val();
        // A fetch starts when the head is taken or free and another entry is there. Both
        // cases are decided from registers, so the consumer's `read` is only a select here.
        self.rptr1.next = self.rptr.q.val() + 1;
        self.more_after_take.next = self.rptr1.val() != self.walloc.q.val();
        self.more_now.next = !(self.fetching.q.val() | self.valid_now.val())
            & (self.rptr.q.val() != self.walloc.q.val());
        self.rnext.next = self.rptr.q.val();
        self.start.next = self.more_now.val();
        if self.take.val() {
            self.rnext.next = self.rptr1.val();
            self.rptr.d.next = self.rptr1.val();
            self.start.next = self.more_after_take.val();
        }
        self.arr.d.next = false;
        self.arr_last.d.next = false;
        self.raddr.next = self.hold.q.val();
        if self.start.val() {
            self.raddr.next = bit_cast::<6, 4>(bit_cast::<4, 5>(self.rnext.val())) << 2;
            if self.multi.val() {
                self.fetching.d.next = true;
                self.frow.d.next = 1.into();
                self.arr.d.next = true;
            } else {
                self.arr_last.d.next = true;
            }
        } else if self.fetching.q.val() {
            self.raddr.next = (bit_cast::<6, 4>(bit_cast::<4, 5>(self.rptr.q.val())) << 2)
                | bit_cast::<6, 2>(self.frow.q.val());
            self.frow.d.next = self.frow.q.val() + 1;
            if self.frow.q.val() == self.last_row.val() {
                self.fetching.d.next = false;
                self.arr_last.d.next = true;
            } else {
                self.arr.d.next = true;
            }
        }
        self.hold.d.next = self.raddr.val();
        self.ram.read_address.next = bit_cast::<PACKET_RAM_ADDR_BITS, 6>(self.raddr.val());
        if self.arr_last.q.val() {
            self.hvalid.d.next = true;
        }
        if self.take.val() {
            self.hvalid.d.next = false;
        }
        // Rows 0..rows-2 shift in as they arrive; the last one is the RAM output.
        if self.arr.q.val() {
            self.r0.d.next = self.ram.read_data.val();
            if self.rows3.val() {
                self.r0.d.next = self.r1.q.val();
                self.r1.d.next = self.ram.read_data.val();
            }
            if self.rows4.val() {
                self.r1.d.next = self.r2.q.val();
                self.r2.d.next = self.ram.read_data.val();
            }
        }
        self.data_out.next = bit_cast::<W, 32>(self.ram.read_data.val()) << self.last_shift.val();
        if self.multi.val() {
            self.data_out.next = self.data_out.val() | bit_cast::<W, 32>(self.r0.q.val());
        }
        if self.rows3.val() {
            self.data_out.next =
                self.data_out.val() | (bit_cast::<W, 32>(self.r1.q.val()) << self.row_bits.val());
        }
        if self.rows4.val() {
            self.data_out.next = self.data_out.val()
                | (bit_cast::<W, 32>(self.r2.q.val())
                    << (self.row_bits.val() + self.row_bits.val()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench, XorShift};

    /// `data_out` is don't-care while the FIFO is empty.
    const Q: &[(&str, &str)] = &[("data_out", "valid")];

    /// Random writes and reads against a queue model: order, data, `full` and the latencies
    /// documented above. Returns the bench for a Verilog replay.
    fn exercise<const W: usize>(rows: usize, seed: u64, cycles: u64) -> Bench<RowFifo<W>> {
        exercise_with::<W>(RowFifo::new(rows), false, seed, cycles)
    }

    /// With `held`, the bits above row 0 of an accepted word stay on `data_in` while the
    /// FIFO writes its other rows (the `held_input` contract); the rest is random.
    fn exercise_with<const W: usize>(
        fifo: RowFifo<W>,
        held: bool,
        seed: u64,
        cycles: u64,
    ) -> Bench<RowFifo<W>> {
        let rows = fifo.rows();
        let row_mask = (1u64 << W.div_ceil(rows)) - 1;
        let mut b = Bench::new(fifo, |f| &mut f.clock);
        b.record();
        let mask = if W >= 64 { u64::MAX } else { (1u64 << W) - 1 };
        let mut rng = XorShift(seed);
        // (data, first cycle it may be at the head)
        let mut model: VecDeque<(u64, u64)> = VecDeque::new();
        let mut busy_until = 0u64;
        let mut head_ready_at = 0u64;
        let mut accepted = 0u64;
        for cycle in 0..cycles {
            let write = rng.chance(55);
            let read = rng.chance(45);
            let mut data = rng.next_u64() & mask;
            if held && cycle < busy_until {
                data = (accepted & !row_mask) | (data & row_mask);
            }
            b.uut.write.next = write;
            b.uut.data_in.next = data.into();
            b.uut.read.next = read;
            b.settle();
            let full = model.len() == ROW_FIFO_DEPTH || cycle < busy_until;
            assert_eq!(b.uut.full.val(), full, "full at {cycle}");
            let at_head = model
                .front()
                .is_some_and(|&(_, t)| t <= cycle && head_ready_at <= cycle);
            assert_eq!(!b.uut.empty.val(), at_head, "empty at {cycle}");
            if at_head {
                assert_eq!(b.uut.data_out.val(), Bits::<W>::from(model[0].0));
                if read {
                    model.pop_front();
                    head_ready_at = cycle + rows as u64;
                }
            }
            if write && !full {
                model.push_back((data, cycle + rows as u64 + 1));
                busy_until = cycle + rows as u64;
                accepted = data;
            }
            b.step();
        }
        b
    }

    #[test]
    fn four_rows_of_sixteen_bits() {
        exercise::<64>(4, 3, 3000).replay_qualified("row_fifo_4", Q);
    }

    #[test]
    fn every_shape() {
        exercise::<72>(3, 5, 1500).replay_qualified("row_fifo_3", Q);
        exercise::<49>(2, 7, 1500).replay_qualified("row_fifo_2", Q);
        exercise::<20>(1, 9, 1000).replay_qualified("row_fifo_1", Q);
    }

    #[test]
    fn held_input_needs_no_staging_register() {
        for (rows, seed) in [(2usize, 11u64), (4, 13)] {
            exercise_with::<49>(RowFifo::new(rows).held_input(), true, seed, 1500)
                .replay_qualified(&format!("row_fifo_held_{rows}"), Q);
        }
        let flops = |f: RowFifo<49>| {
            let mut f = f;
            f.connect_all();
            vassa_hdl_tools::hwcheck::yosys_synth(
                &generate_verilog(&f),
                "top",
                vassa_hdl_tools::hwcheck::Family::Ice40,
            )
            .unwrap()
            .flip_flops
        };
        let (staged, held) = (flops(RowFifo::new(2)), flops(RowFifo::new(2).held_input()));
        assert!(
            held + 24 <= staged,
            "{held} flip-flops held, {staged} staged"
        );
    }

    #[test]
    fn back_to_back_throughput_is_one_entry_per_rows_cycles() {
        for rows in 2..=4usize {
            let mut b = Bench::new(RowFifo::<64>::new(rows), |f| &mut f.clock);
            let (mut written, mut read) = (0u64, 0u64);
            for _ in 0..400 {
                b.uut.write.next = true;
                b.uut.data_in.next = written.into();
                b.uut.read.next = true;
                b.settle();
                if !b.uut.full.val() {
                    written += 1;
                }
                if !b.uut.empty.val() {
                    assert_eq!(b.uut.data_out.val(), Bits::<64>::from(read));
                    read += 1;
                }
                b.step();
            }
            assert!(
                read >= 400 / rows as u64 - 4,
                "rows {rows}: {read} entries read"
            );
        }
    }

    #[test]
    fn fits_one_block_ram_and_is_clean() {
        use vassa_hdl_tools::hwcheck::{yosys_synth, Family};
        for (rows, brams) in [(4usize, 1u32), (2, 2)] {
            let mut f = RowFifo::<64>::new(rows);
            f.connect_all();
            let r = yosys_synth(&generate_verilog(&f), "top", Family::Ice40).unwrap();
            assert_eq!(r.block_rams, brams, "rows {rows}: {r:?}");
        }
        yosys_check("row_fifo", RowFifo::<72>::new(3));
        lint_check("row_fifo", RowFifo::<72>::new(3));
        lint_check("row_fifo_1", RowFifo::<20>::new(1));
    }
}
