//! Simple dual-port 32-bit RAM with a write strobe per byte lane, depth set at construction.
//!
//! rust-hdl's `RAM<D, N>` has neither byte enables nor a runtime depth, so this block writes
//! its own Verilog: `reg [31:0] mem[0:DEPTH-1]` with one `mem[a][8*i +: 8] <= ...` per lane,
//! which yosys maps to block RAM with byte-write enables (Spartan-6 `RAMB16BWER`, iCE40
//! `SB_RAM40_4K` bit masks). Reads are registered (data the cycle after the address). A read
//! of the word being written in the same cycle returns the old word (`no_rw_check`: no
//! bypass logic; Verilator, Icarus and this simulation all return the old word, and the card's
//! users never depend on it). Addresses are word addresses; only the low log2(depth) bits are
//! used (the depth is a power of two).

use rust_hdl::prelude::*;

/// Width of [`ByteRam`]'s word addresses: a 32-bit byte address without its two low bits.
pub const WORD_ADDR_BITS: usize = 30;

#[derive(LogicBlock)]
pub struct ByteRam {
    pub clock: Signal<In, Clock>,
    pub read_address: Signal<In, Bits<WORD_ADDR_BITS>>,
    pub read_data: Signal<Out, Bits<32>>,
    pub write_address: Signal<In, Bits<WORD_ADDR_BITS>>,
    pub write_data: Signal<In, Bits<32>>,
    /// Bit i writes byte lane i (bits 8i+7..8i).
    pub write_strobe: Signal<In, Bits<4>>,
    _mem: Vec<u32>,
}

impl ByteRam {
    /// A RAM of `words` 32-bit words (a power of two, at least 2), all zero.
    pub fn new(words: usize) -> Self {
        assert!(
            words.is_power_of_two() && (2..1 << WORD_ADDR_BITS).contains(&words),
            "ByteRam depth {words} must be a power of two"
        );
        ByteRam {
            clock: Default::default(),
            read_address: Default::default(),
            read_data: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            write_strobe: Default::default(),
            _mem: vec![0; words],
        }
    }

    pub fn words(&self) -> usize {
        self._mem.len()
    }
}

impl Logic for ByteRam {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let mask = self._mem.len() - 1;
            let ra = self.read_address.val().index() & mask;
            let wa = self.write_address.val().index() & mask;
            self.read_data.next = (self._mem[ra] as u64).into();
            let strobe = self.write_strobe.val().index();
            let data = self.write_data.val().to_u64() as u32;
            let word = &mut self._mem[wa];
            for lane in 0..4 {
                if strobe & (1 << lane) != 0 {
                    let m = 0xFFu32 << (8 * lane);
                    *word = (*word & !m) | (data & m);
                }
            }
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        let words = self._mem.len();
        let bits = words.trailing_zeros() as usize;
        let lanes: String = (0..4)
            .map(|i| {
                format!(
                    "    if (write_strobe[{i}]) mem[write_address[{msb}:0]][{hi}:{lo}] <= \
                     write_data[{hi}:{lo}];\n",
                    msb = bits - 1,
                    hi = 8 * i + 7,
                    lo = 8 * i
                )
            })
            .collect();
        Verilog::Custom(format!(
            "\
(* no_rw_check *) reg [31:0] mem[0:{last}];
integer i;
// Address bits above the depth are ignored (the user checks the range).
wire unused_address_bits = ^{{read_address[{top}:{bits}], write_address[{top}:{bits}]}};
initial begin
    for (i = 0; i <= {last}; i = i + 1) mem[i] = 32'h0;
    read_data = 32'h0;
end
always @(posedge clock) begin
    read_data <= mem[read_address[{msb}:0]];
{lanes}end
",
            last = words - 1,
            top = WORD_ADDR_BITS - 1,
            msb = bits - 1,
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "byte_ram".into(),
            clock: "clock".into(),
            inputs: vec![
                "read_address".into(),
                "write_address".into(),
                "write_data".into(),
                "write_strobe".into(),
            ],
            outputs: vec!["read_data".into()],
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vassa_hdl_tools::hwcheck::{yosys_synth, Family};
    use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench};

    #[test]
    fn byte_lanes_write_independently_and_match_the_verilog() {
        let mut b = Bench::new(ByteRam::new(16), |r| &mut r.clock);
        b.record();
        for (addr, data, strobe) in [
            (1u64, 0x1122_3344u64, 0xFu64),
            (1, 0xAABB_CCDD, 0b0101),
            (2, 0xFFFF_FFFF, 0b1000),
            (17, 0x5555_5555, 0b0010), // wraps to word 1: only the low 4 bits are used
        ] {
            b.uut.write_address.next = addr.into();
            b.uut.write_data.next = data.into();
            b.uut.write_strobe.next = strobe.into();
            b.uut.read_address.next = addr.into();
            b.step();
        }
        b.uut.write_strobe.next = 0.into();
        for (addr, want) in [(1u64, 0x11BB_55DDu64), (2, 0xFF00_0000), (3, 0)] {
            b.uut.read_address.next = addr.into();
            b.step();
            assert_eq!(b.uut.read_data.val().to_u64(), want, "word {addr}");
        }
        b.replay("byte_ram");
    }

    #[test]
    fn verilog_is_clean() {
        yosys_check("byte_ram", ByteRam::new(64));
        lint_check("byte_ram", ByteRam::new(64));
    }

    #[test]
    fn maps_to_block_ram_with_byte_enables() {
        let mut ram = ByteRam::new(4096);
        ram.connect_all();
        let v = generate_verilog(&ram);
        for family in [Family::Xc6s, Family::Ice40] {
            let r = yosys_synth(&v, "top", family).unwrap();
            assert!(r.block_rams > 0 && r.lut_rams == 0, "{family:?}: {r:?}");
            assert!(r.flip_flops < 64, "{family:?}: {r:?}");
        }
    }
}
