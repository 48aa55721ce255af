//! 256 x 16 simple dual-port RAM with a per-bit write mask: one iCE40 SB_RAM40_4K (its MASK
//! input), for the block-RAM CAM of the [`MappingCache`](crate::mapping_cache::MappingCache).
//! Registered read. A read of the row written in the same edge returns the old row in this
//! model; the Verilog is `no_rw_check`, and the cache never uses data read from a row in the
//! edge it is written (what the iCE40 returns then is not specified).

use rust_hdl::prelude::*;

pub const CAM_RAM_ADDR_BITS: usize = 8;
pub const CAM_RAM_WIDTH: usize = 16;
const ROWS: usize = 1 << CAM_RAM_ADDR_BITS;

#[derive(LogicBlock)]
pub struct CamRam {
    pub clock: Signal<In, Clock>,
    pub read_address: Signal<In, Bits<CAM_RAM_ADDR_BITS>>,
    pub read_data: Signal<Out, Bits<CAM_RAM_WIDTH>>,
    pub write_address: Signal<In, Bits<CAM_RAM_ADDR_BITS>>,
    pub write_data: Signal<In, Bits<CAM_RAM_WIDTH>>,
    pub write_mask: Signal<In, Bits<CAM_RAM_WIDTH>>,
    pub write_enable: Signal<In, Bit>,
    _mem: Vec<u16>,
}

impl Default for CamRam {
    fn default() -> Self {
        CamRam {
            clock: Default::default(),
            read_address: Default::default(),
            read_data: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            write_mask: Default::default(),
            write_enable: Default::default(),
            _mem: vec![0; ROWS],
        }
    }
}

impl Logic for CamRam {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let ra = self.read_address.val().index();
            let wa = self.write_address.val().index();
            self.read_data.next = (self._mem[ra] as u64).into();
            if self.write_enable.val() {
                let m = self.write_mask.val().to_u64() as u16;
                let d = self.write_data.val().to_u64() as u16;
                self._mem[wa] = (self._mem[wa] & !m) | (d & m);
            }
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "\
(* no_rw_check *) reg [15:0] mem[0:255];
integer i;
integer b;
initial begin
    for (i = 0; i <= 255; i = i + 1) mem[i] = 16'h0;
end
always @(posedge clock) begin
    if (write_enable) begin
        for (b = 0; b < 16; b = b + 1) begin
            if (write_mask[b]) mem[write_address][b] <= write_data[b];
        end
    end
    read_data <= mem[read_address];
end
"
            .into(),
        )
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "cam_ram".into(),
            clock: "clock".into(),
            inputs: vec![
                "read_address".into(),
                "write_address".into(),
                "write_data".into(),
                "write_mask".into(),
                "write_enable".into(),
            ],
            outputs: vec!["read_data".into()],
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vassa_hdl_tools::hwcheck::{yosys_synth, Family};

    #[test]
    fn cam_ram_is_one_block_ram() {
        let mut r = CamRam::default();
        r.connect_all();
        let s = yosys_synth(&generate_verilog(&r), "top", Family::Ice40).unwrap();
        eprintln!("cam_ram: {s:?}");
        assert_eq!(s.block_rams, 1, "{s:?}");
    }
}
