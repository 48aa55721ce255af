//! One cycle of the link CRC: the CRC-32 register advanced by a 32-bit word.
//!
//! The update is linear over GF(2): `crc_out = M · (crc_in ^ data)` for a fixed 32×32 matrix
//! `M` (32 reflected shift steps). rust-hdl's `hdl_gen` cannot express a generated XOR network,
//! so this block writes its own Verilog: one XOR expression per output bit, derived here from
//! the software step [`crc_state_step`]. Its simulation `update` calls the same software step,
//! and a test evaluates the Verilog with yosys to check the two agree.

use crate::spec::packet::crc_state_step;
use rust_hdl::prelude::*;

/// Combinational CRC-32 word step (see the module documentation).
#[derive(LogicBlock, Default)]
pub struct Crc32Step {
    pub crc_in: Signal<In, Bits<32>>,
    pub data: Signal<In, Bits<32>>,
    pub crc_out: Signal<Out, Bits<32>>,
}

/// For each output bit, the input bits (of `crc_in ^ data`) that are XORed into it.
pub fn crc_step_matrix() -> [Vec<usize>; 32] {
    // Column i of M is the response to the unit vector e_i (the step is linear: no constant).
    let mut rows: [Vec<usize>; 32] = Default::default();
    for i in 0..32 {
        let column = crc_state_step(1 << i, 0);
        for (j, row) in rows.iter_mut().enumerate() {
            if column & (1 << j) != 0 {
                row.push(i);
            }
        }
    }
    rows
}

impl Logic for Crc32Step {
    fn update(&mut self) {
        let crc = self.crc_in.val().to_u64() as u32;
        let data = self.data.val().to_u64() as u32;
        self.crc_out.next = (crc_state_step(crc, data) as u64).into();
    }

    fn connect(&mut self) {
        self.crc_out.connect();
    }

    fn hdl(&self) -> Verilog {
        let mut body = String::from("wire [31:0] x = crc_in ^ data;\nalways @(*) begin\n");
        for (j, row) in crc_step_matrix().iter().enumerate() {
            let terms: Vec<String> = row.iter().map(|i| format!("x[{i}]")).collect();
            body += &format!("    crc_out[{j}] = {};\n", terms.join(" ^ "));
        }
        body += "end\n";
        Verilog::Custom(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::packet::{raw_crc, CRC_INIT_STATE};
    use std::process::Command;
    use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench};

    #[test]
    fn simulation_matches_the_link_crc() {
        let mut bench = Bench::new(Crc32Step::default(), |_| unreachable!());
        let words = [0x0000_1000u32, 0x0700_0005, 0x6c6c_6568, 0x0000_006f];
        let mut state = CRC_INIT_STATE;
        for w in words {
            bench.uut.crc_in.next = (state as u64).into();
            bench.uut.data.next = (w as u64).into();
            bench.settle();
            state = bench.uut.crc_out.val().to_u64() as u32;
        }
        assert_eq!(!state, raw_crc(&words));
    }

    #[test]
    fn generated_verilog_matches_the_software_step() {
        let verilog = yosys_check("crc32_step", Crc32Step::default());
        let dir = std::env::temp_dir().join(format!("vassa_crc_eval_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("top.v"), &verilog).unwrap();
        let vectors = [
            (0xFFFF_FFFFu32, 0x0000_0000u32),
            (0x1234_5678, 0x9ABC_DEF0),
            (0x0000_0001, 0x8000_0000),
            (0xDEAD_BEEF, 0x0BAD_F00D),
        ];
        let mut script = String::from("read_verilog top.v; proc; flatten;");
        for (crc, data) in vectors {
            script += &format!(
                " eval -set crc_in 32'h{crc:08x} -set data 32'h{data:08x} -show crc_out top;"
            );
        }
        let out = Command::new("yosys")
            .current_dir(&dir)
            .args(["-p", &script])
            .output()
            .expect("yosys runs");
        let text = String::from_utf8_lossy(&out.stdout);
        // yosys prints "Eval result: \\crc_out = 32'<binary>." or a plain decimal.
        let results: Vec<u32> = text
            .lines()
            .filter_map(|l| l.split("\\crc_out = ").nth(1))
            .map(|v| {
                let v = v.trim_end_matches('.');
                match v.strip_prefix("32'") {
                    Some(bin) => u32::from_str_radix(bin, 2).unwrap(),
                    None => v.parse().unwrap(),
                }
            })
            .collect();
        assert_eq!(results.len(), vectors.len(), "yosys output:\n{text}");
        for ((crc, data), got) in vectors.iter().zip(results) {
            assert_eq!(
                got,
                crc_state_step(*crc, *data),
                "crc {crc:#x} data {data:#x}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lint_clean() {
        lint_check("crc32_step", Crc32Step::default());
    }
}
