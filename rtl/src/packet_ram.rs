//! Simple dual-port RAM whose depth is a generator parameter.
//!
//! rust-hdl's `RAM<D, N>` fixes the depth at 2^N by type; the receive buffers and counters are
//! sized by parameters, so this RAM takes its depth at construction and writes
//! `reg [31:0] mem[0:DEPTH-1]`, which yosys maps to block RAM. Reads are registered (data
//! appears the cycle after the address), as in block RAM. A read and a write of the same
//! address in one cycle return the old data ([`PacketRam::new`]), which costs bypass logic on
//! FPGAs whose block RAM does not guarantee it (iCE40: about 75 LUTs and 72 flip-flops). Users
//! that never use the data of a read colliding with a write (they forward the written value
//! themselves) take [`PacketRam::without_collisions`]: no bypass logic, and the simulation
//! returns [`COLLISION_POISON`] for such a read, so a user that does depend on it fails its
//! tests or its Verilog replay.
//!
//! A read address at or beyond the depth reads 0, which on a depth that is not a power of two
//! costs a comparator in front of the output register (a carry chain on the critical path of
//! the receive buffer). Users whose reads stay in range by construction take
//! [`PacketRam::in_range_reads`]: no check, and the simulation returns [`OUT_OF_RANGE_POISON`]
//! for such a read, so a user that does read out of range fails its tests.
//!
//! `read_data` has no initial value: it is undefined until the first clock edge (users qualify
//! it with their own registers, which start at 0). On iCE40 yosys emulates an initial value
//! with logic on the outputs: 78 LUT4 for the core's seven RAMs.

use rust_hdl::prelude::*;

/// What a [`PacketRam::without_collisions`] read returns in simulation when the same word is
/// written in that cycle (the hardware returns old or new data, depending on the FPGA).
pub const COLLISION_POISON: u32 = 0xDEAD_BEEF;

/// What a [`PacketRam::in_range_reads`] read beyond the depth returns in simulation (the
/// hardware returns some other word).
pub const OUT_OF_RANGE_POISON: u32 = 0xBAD0_ADD0;

/// Address width of [`PacketRam`]; depth may be anything up to 2^14 words.
pub const PACKET_RAM_ADDR_BITS: usize = 14;
const _: () =
    assert!(1 << PACKET_RAM_ADDR_BITS == crate::spec::params::RX_BUFFER_WORDS_MAX as usize);

#[derive(LogicBlock)]
pub struct PacketRam {
    pub clock: Signal<In, Clock>,
    pub read_address: Signal<In, Bits<PACKET_RAM_ADDR_BITS>>,
    pub read_data: Signal<Out, Bits<32>>,
    pub write_address: Signal<In, Bits<PACKET_RAM_ADDR_BITS>>,
    pub write_data: Signal<In, Bits<32>>,
    pub write_enable: Signal<In, Bit>,
    _mem: Vec<u32>,
    _collision_free: bool,
    _reads_in_range: bool,
    /// Stored bits per word (the low bits of `write_data`); the rest read as 0.
    _width: usize,
}

impl PacketRam {
    /// A RAM of `words` 32-bit words, all zero; a same-cycle read of the word being written
    /// returns the old data.
    pub fn new(words: usize) -> Self {
        Self::build(words, false)
    }

    /// A RAM whose user never depends on the data of a read that collides with a write of the
    /// same word.
    pub fn without_collisions(words: usize) -> Self {
        Self::build(words, true)
    }

    fn build(words: usize, collision_free: bool) -> Self {
        assert!(
            (1..=1 << PACKET_RAM_ADDR_BITS).contains(&words),
            "PacketRam depth {words} out of range"
        );
        PacketRam {
            clock: Default::default(),
            read_address: Default::default(),
            read_data: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            write_enable: Default::default(),
            _mem: vec![0; words],
            _collision_free: collision_free,
            _reads_in_range: false,
            _width: 32,
        }
    }

    /// Stores only the low `width` bits of each word (the others read as 0): on iCE40 a
    /// block RAM is 16 bits wide, so a 16-bit memory takes one where 32 bits take two.
    pub fn narrow(mut self, width: usize) -> Self {
        assert!((1..=32).contains(&width), "PacketRam width {width}");
        self._width = width;
        self
    }

    /// For a user that never reads an address at or beyond the depth: no range check on reads
    /// (writes keep theirs, so nothing outside the memory is ever written).
    pub fn in_range_reads(mut self) -> Self {
        self._reads_in_range = true;
        self
    }

    pub fn depth(&self) -> usize {
        self._mem.len()
    }
}

impl Logic for PacketRam {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            // Addresses beyond the depth read as 0 and are not written, like the Verilog.
            let ra = self.read_address.val().index();
            let wa = self.write_address.val().index();
            let collision = self.write_enable.val() && wa == ra;
            let missing = if self._reads_in_range {
                OUT_OF_RANGE_POISON
            } else {
                0
            };
            let old = self._mem.get(ra).copied().unwrap_or(missing);
            let data = if collision && self._collision_free {
                COLLISION_POISON
            } else {
                old
            };
            self.read_data.next = (data as u64).into();
            if self.write_enable.val() {
                if let Some(slot) = self._mem.get_mut(wa) {
                    let mask = (u64::MAX >> (64 - self._width)) as u32;
                    *slot = self.write_data.val().to_u64() as u32 & mask;
                }
            }
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        let depth = self._mem.len();
        // yosys: no read-during-write bypass for a collision-free RAM.
        let attribute = if self._collision_free {
            "(* no_rw_check *) "
        } else {
            ""
        };
        let pad = if self._width == 32 {
            String::new()
        } else {
            format!("{}'h0, ", 32 - self._width)
        };
        let word = format!("{{{pad}mem[read_address]}}");
        let used_bits = usize::BITS as usize - (depth - 1).leading_zeros() as usize;
        let (read, unused_address) = if self._reads_in_range {
            // Verilator does not report signals named *unused*.
            let unused = if used_bits < PACKET_RAM_ADDR_BITS {
                format!(
                    "wire unused_read_address_bits = ^read_address[{}:{}];\n",
                    PACKET_RAM_ADDR_BITS - 1,
                    used_bits.max(1)
                )
            } else {
                String::new()
            };
            (format!("read_data <= {word};"), unused)
        } else {
            let read = format!("read_data <= (read_address < {depth}) ? {word} : 32'h0;");
            (read, String::new())
        };
        Verilog::Custom(format!(
            "\
{attribute}reg [{msb}:0] mem[0:{last}];
{unused}{unused_address}integer i;
initial begin
    for (i = 0; i <= {last}; i = i + 1) mem[i] = {width}'h0;
end
always @(posedge clock) begin
    {read}
    if (write_enable && write_address < {depth}) begin
        mem[write_address] <= write_data[{msb}:0];
    end
end
",
            last = depth - 1,
            msb = self._width - 1,
            width = self._width,
            // A narrow RAM ignores the high write bits on purpose; Verilator does not report
            // signals named *unused*.
            unused = if self._width == 32 {
                String::new()
            } else {
                format!("wire unused_high_bits = ^write_data[31:{}];\n", self._width)
            },
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "packet_ram".into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench};

    /// iCE40 resource use of one RAM, as yosys maps it.
    fn synth(mut ram: PacketRam) -> vassa_hdl_tools::hwcheck::SynthReport {
        use vassa_hdl_tools::hwcheck::{yosys_synth, Family};
        ram.connect_all();
        yosys_synth(&generate_verilog(&ram), "top", Family::Ice40).unwrap()
    }

    #[test]
    fn registered_read_and_old_data_on_collision() {
        let mut b = Bench::new(PacketRam::new(40), |r| &mut r.clock);
        b.uut.write_enable.next = true;
        b.uut.write_address.next = 7.into();
        b.uut.write_data.next = 0xABCD.into();
        b.uut.read_address.next = 7.into();
        b.step();
        // Read in the write cycle saw the old contents.
        assert_eq!(b.uut.read_data.val(), Bits::<32>::from(0));
        b.uut.write_enable.next = false;
        b.step();
        assert_eq!(b.uut.read_data.val(), Bits::<32>::from(0xABCD));
        // Out of range: not written, reads 0.
        b.uut.write_enable.next = true;
        b.uut.write_address.next = 40.into();
        b.uut.read_address.next = 40.into();
        b.steps(2);
        assert_eq!(b.uut.read_data.val(), Bits::<32>::from(0));
    }

    #[test]
    fn collision_free_ram_poisons_a_colliding_read() {
        let mut b = Bench::new(PacketRam::without_collisions(8), |r| &mut r.clock);
        b.uut.write_enable.next = true;
        b.uut.write_address.next = 3.into();
        b.uut.write_data.next = 5.into();
        b.uut.read_address.next = 3.into();
        b.step();
        assert_eq!(b.uut.read_data.val().to_u64() as u32, COLLISION_POISON);
        b.uut.write_enable.next = false;
        b.step();
        assert_eq!(b.uut.read_data.val().to_u64(), 5);
    }

    #[test]
    fn collision_free_ram_needs_no_bypass_logic() {
        let plain = synth(PacketRam::new(256));
        let lean = synth(PacketRam::without_collisions(256));
        assert_eq!(lean.block_rams, plain.block_rams);
        assert!(
            lean.flip_flops + 32 <= plain.flip_flops,
            "bypass not removed: {lean:?} vs {plain:?}"
        );
    }

    /// 384 words (the default receive buffer) is not a power of two: the range check is a
    /// comparator on the output register. In-range reads drop it; a read beyond the depth
    /// shows up as poison in simulation.
    #[test]
    fn in_range_reads_need_no_range_check() {
        let mut b = Bench::new(PacketRam::new(384).in_range_reads(), |r| &mut r.clock);
        b.uut.write_enable.next = true;
        b.uut.write_address.next = 383.into();
        b.uut.write_data.next = 0x1234.into();
        b.step();
        b.uut.write_enable.next = false;
        b.uut.read_address.next = 383.into();
        b.step();
        assert_eq!(b.uut.read_data.val().to_u64(), 0x1234);
        b.uut.read_address.next = 384.into();
        b.step();
        assert_eq!(b.uut.read_data.val().to_u64() as u32, OUT_OF_RANGE_POISON);

        let checked = synth(PacketRam::without_collisions(384));
        let unchecked = synth(PacketRam::without_collisions(384).in_range_reads());
        assert_eq!(unchecked.block_rams, checked.block_rams);
        assert!(
            unchecked.luts + 4 <= checked.luts,
            "range check not removed: {unchecked:?} vs {checked:?}"
        );
        lint_check("packet_ram_in_range", PacketRam::new(384).in_range_reads());
    }

    #[test]
    fn narrow_ram_keeps_the_low_bits_and_matches_its_verilog() {
        let mut b = Bench::new(PacketRam::new(16).narrow(20), |r| &mut r.clock);
        b.record();
        for (addr, data) in [(1u64, 0xFFFF_FFFFu64), (2, 0x0012_3456), (15, 0xABCD_EF01)] {
            b.uut.write_enable.next = true;
            b.uut.write_address.next = addr.into();
            b.uut.write_data.next = data.into();
            b.step();
        }
        b.uut.write_enable.next = false;
        for (addr, want) in [(1u64, 0xF_FFFFu64), (2, 0x2_3456), (15, 0xD_EF01), (3, 0)] {
            b.uut.read_address.next = addr.into();
            b.step();
            assert_eq!(b.uut.read_data.val().to_u64(), want, "word {addr}");
        }
        b.replay("packet_ram_narrow");
        lint_check("packet_ram_narrow", PacketRam::new(16).narrow(20));
    }

    #[test]
    fn verilog_is_clean() {
        let v = yosys_check("packet_ram", PacketRam::new(100));
        assert!(v.contains("mem[0:99]"));
    }

    #[test]
    fn lint_clean() {
        lint_check("packet_ram", PacketRam::new(100));
    }
}
