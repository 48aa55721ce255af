//! Builds the Verilated VASSA core: generates the core's Verilog from vassa-rtl, runs the
//! system Verilator (5.006 or later) to compile it into a C++ model, compiles a generated C
//! shim of `extern "C"` port accessors with Verilator's runtime, and writes the matching Rust
//! declarations to `$OUT_DIR/ports.rs`. Cargo reruns it when vassa-rtl (the RTL) changes.
//!
//! Tracing: one Verilated model supports one trace format (given both `--trace` and
//! `--trace-fst`, Verilator 5.006 generates FST only), so the format is a build choice: VCD by
//! default, FST with the cargo feature `fst` (adds `verilated_fst_c.cpp`, which includes
//! gtkwave's fstapi/lz4/fastlz sources, and links zlib).
//!
//! Besides the per-port accessors the shim has `vassa_cycle` (all inputs in, one clock cycle,
//! all outputs out: one FFI call a cycle) and `csrc/two_cards.cpp`, a two-card loop written
//! entirely in C++ that the benchmark compares the Rust-driven loop against.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use vassa_rtl::spec::params::CoreParams;

const TOP: &str = "vassa_core";
/// Top module of the Verilated FrontPanelCard.
const FP_TOP: &str = "vassa_fp_card";
/// LED pulse stretch of the simulated FrontPanelCard (core cycles): short, so tests see pulses.
const FP_LED_STRETCH_CYCLES: u32 = 64;

struct Port {
    name: String,
    input: bool,
    bits: u32,
}

/// Reads the port declarations of module `top` (rust-hdl writes one per line).
fn ports(verilog: &str, top: &str) -> Vec<Port> {
    let module = verilog
        .split(&format!("module {top}("))
        .nth(1)
        .expect("top module in the generated Verilog");
    let body = &module[..module.find("endmodule").unwrap()];
    body.lines()
        .map(str::trim)
        .filter_map(|line| {
            let (input, rest) = if let Some(r) = line.strip_prefix("input wire ") {
                (true, r)
            } else if let Some(r) = line.strip_prefix("output reg ") {
                (false, r)
            } else if let Some(r) = line.strip_prefix("output wire ") {
                (false, r)
            } else {
                return None;
            };
            let rest = rest.trim().trim_end_matches(';');
            let (bits, name) = match rest.strip_prefix('[') {
                Some(r) => {
                    let (range, name) = r.split_once(']').unwrap();
                    let msb: u32 = range.split(':').next().unwrap().parse().unwrap();
                    (msb + 1, name.trim())
                }
                None => (1, rest),
            };
            Some(Port {
                name: name.to_string(),
                input,
                bits,
            })
        })
        .collect()
}

fn verilator_root() -> PathBuf {
    let out = Command::new("verilator")
        .arg("--getenv")
        .arg("VERILATOR_ROOT")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "\n\nvassa-sim needs Verilator (5.006 or later) on PATH: {e}.\n\
                 Install it with `bash scripts/setup-tools.sh` (Debian package `verilator`).\n\n"
            )
        });
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Verilates `top` (Verilog already in `$OUT_DIR/{top}.v`) into `$OUT_DIR/{obj}` and copies
/// the model archive to `lib{top}_model.a` there (linked by [`link_model`] after the shim).
/// Returns the object directory.
fn verilate(out: &Path, top: &str, obj: &str, fst: bool) -> PathBuf {
    let obj = out.join(obj);
    let _ = std::fs::remove_dir_all(&obj);
    run(
        Command::new("verilator")
            .current_dir(out)
            .args([
                "--cc",
                "--build",
                "-j",
                "2",
                "-O3",
                "--x-assign",
                "fast",
                // Verilator's makefile compiles the model with -Os by default.
                "-MAKEFLAGS",
                "OPT_FAST=-O2 OPT_GLOBAL=-O2",
                if fst { "--trace-fst" } else { "--trace" },
            ])
            .args(["--top-module", top, "--Mdir"])
            .arg(&obj)
            .arg("waivers.vlt")
            .arg(format!("{top}.v")),
        &format!("verilator ({top})"),
    );
    // Verilator names the archive without the `lib` prefix the linker looks for.
    std::fs::copy(
        obj.join(format!("V{top}__ALL.a")),
        obj.join(format!("lib{top}_model.a")),
    )
    .unwrap();
    obj
}

fn link_model(obj: &Path, top: &str) {
    println!("cargo:rustc-link-search=native={}", obj.display());
    println!("cargo:rustc-link-lib=static={top}_model");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc/two_cards.cpp");
    let fst = std::env::var_os("CARGO_FEATURE_FST").is_some();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let root = verilator_root();
    let params = CoreParams::default();
    std::fs::write(
        out.join("waivers.vlt"),
        vassa_rtl::hwcheck::VERILATOR_WAIVERS,
    )
    .unwrap();

    // The core alone (`Model`, `Card`).
    let verilog = vassa_rtl::core::core_verilog(&params);
    std::fs::write(out.join(format!("{TOP}.v")), &verilog).unwrap();
    let obj = verilate(&out, TOP, "obj", fst);
    let core_ports = ports(&verilog, TOP);
    write_shim(&out, &core_ports, fst);
    write_rust(&out, &core_ports);

    // The XEM6010's FrontPanelCard (`board::BoardSim`).
    let fp_verilog = vassa_rtl::board::frontpanel_card::frontpanel_card_verilog(
        &params,
        vassa_rtl::board::XEM6010_MEM_BYTES,
        FP_LED_STRETCH_CYCLES,
        FP_TOP,
    );
    std::fs::write(out.join(format!("{FP_TOP}.v")), &fp_verilog).unwrap();
    let fp_obj = verilate(&out, FP_TOP, "fp_obj", fst);
    let fp_ports = ports(&fp_verilog, FP_TOP);
    write_fp_shim(&out, &fp_ports, fst);
    write_fp_rust(&out, &fp_ports);

    let include = root.join("include");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .opt_level(2)
        .warnings(false)
        .include(&out)
        .include(&obj)
        .include(&fp_obj)
        .include(&include)
        .include(include.join("vltstd"))
        .file(out.join("shim.cpp"))
        .file(out.join("fp_shim.cpp"))
        .file(manifest.join("csrc/two_cards.cpp"))
        .file(include.join("verilated.cpp"))
        .file(include.join("verilated_threads.cpp"))
        .file(include.join(if fst {
            "verilated_fst_c.cpp"
        } else {
            "verilated_vcd_c.cpp"
        }))
        .compile("vassa_shim");
    link_model(&obj, TOP);
    link_model(&fp_obj, FP_TOP);
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=pthread");
    if fst {
        println!("cargo:rustc-link-lib=dylib=z");
    }
}

fn c_type(bits: u32) -> &'static str {
    assert!(bits <= 32, "ports wider than 32 bits need VlWide accessors");
    "uint32_t"
}

/// Mask of a port's bits in a `uint32_t`.
fn mask(bits: u32) -> u64 {
    (1u64 << bits) - 1
}

fn write_shim(out: &Path, ports: &[Port], fst: bool) {
    let (trace_h, tracer) = if fst {
        ("verilated_fst_c.h", "VerilatedFstC")
    } else {
        ("verilated_vcd_c.h", "VerilatedVcdC")
    };
    // shim.h: the card handle and the batched cycle, shared with csrc/two_cards.cpp.
    let mut h = format!(
        "// Generated by vassa-sim's build.rs.\n#pragma once\n#include \"V{TOP}.h\"\n\
         #include \"verilated.h\"\n#include \"{trace_h}\"\n#include <cstdint>\n\
         typedef {tracer} VassaTracer;\n\
         struct Card {{ VerilatedContext* ctx; V{TOP}* m; VassaTracer* tr; }};\n\
         // Every input port but the clock, then every output port, in port order.\n\
         struct VassaIn {{\n"
    );
    for p in ports.iter().filter(|p| p.input && p.name != "clock") {
        c_type(p.bits);
        writeln!(h, "  uint32_t {};", p.name).unwrap();
    }
    h += "};\nstruct VassaOut {\n";
    for p in ports.iter().filter(|p| !p.input) {
        c_type(p.bits);
        writeln!(h, "  uint32_t {};", p.name).unwrap();
    }
    h += "};\n\
         // One clock cycle: inputs applied with the clock low and settled, outputs sampled\n\
         // (trace time t), rising edge (trace time t + 1). The clock is left high.\n\
         static inline void vassa_cycle_inline(Card* c, const VassaIn* in, VassaOut* out, uint64_t t) {\n\
         \x20 V";
    h += TOP;
    h += "* m = c->m;\n  m->clock = 0;\n";
    for p in ports.iter().filter(|p| p.input && p.name != "clock") {
        writeln!(
            h,
            "  m->{n} = in->{n} & {m:#x}u;",
            n = p.name,
            m = mask(p.bits)
        )
        .unwrap();
    }
    h += "  m->eval();\n  if (c->tr) c->tr->dump(t);\n";
    for p in ports.iter().filter(|p| !p.input) {
        writeln!(h, "  out->{n} = m->{n};", n = p.name).unwrap();
    }
    h += "  m->clock = 1;\n  m->eval();\n  if (c->tr) c->tr->dump(t + 1);\n}\n";
    std::fs::write(out.join("shim.h"), h).unwrap();

    let mut s =
        "// Generated by vassa-sim's build.rs.\n#include \"shim.h\"\nextern \"C\" {\n".to_string();
    s += &handle_cpp("vassa", "Card", TOP, "VassaTracer");
    s += "void vassa_cycle(void* p, const VassaIn* in, VassaOut* out, uint64_t t) { \
          vassa_cycle_inline((Card*)p, in, out, t); }\n";
    s += &accessors_cpp("vassa", "Card", ports);
    s += "}\n";
    std::fs::write(out.join("shim.cpp"), s).unwrap();
}

fn write_rust(out: &Path, ports: &[Port]) {
    let accessors = accessors_rust("vassa", "Model", ports);
    // The structs of `vassa_cycle`, field for field as in shim.h.
    let mut structs = String::from(
        "/// Every input port but the clock, as `vassa_cycle` takes them (higher bits than the \
         port's width are dropped).\n#[repr(C)]\n#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]\n\
         pub struct Inputs {\n",
    );
    for p in ports.iter().filter(|p| p.input && p.name != "clock") {
        writeln!(
            structs,
            "    /// {} bits.\n    pub {}: u32,",
            p.bits, p.name
        )
        .unwrap();
    }
    structs += "}\n/// Every output port, sampled before the rising edge.\n#[repr(C)]\n\
                #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]\npub struct Outputs {\n";
    for p in ports.iter().filter(|p| !p.input) {
        writeln!(
            structs,
            "    /// {} bits.\n    pub {}: u32,",
            p.bits, p.name
        )
        .unwrap();
    }
    structs += "}\n";
    std::fs::write(out.join("ports.rs"), accessors + &structs).unwrap();
}

/// `new`, `free`, `eval` and the trace functions of a model handle `{handle}` (a struct of
/// `ctx`, `m`, `tr`), named `{prefix}_*`.
fn handle_cpp(prefix: &str, handle: &str, top: &str, tracer: &str) -> String {
    format!(
        "void* {prefix}_new() {{ {handle}* c = new {handle}; c->ctx = new VerilatedContext; \
         c->ctx->traceEverOn(true); c->m = new V{top}{{c->ctx}}; c->tr = nullptr; return c; }}\n\
         void {prefix}_free(void* p) {{ {handle}* c = ({handle}*)p; c->m->final(); \
         if (c->tr) {{ c->tr->close(); delete c->tr; }} delete c->m; delete c->ctx; delete c; }}\n\
         void {prefix}_eval(void* p) {{ (({handle}*)p)->m->eval(); }}\n\
         int {prefix}_trace_open(void* p, const char* path) {{ {handle}* c = ({handle}*)p; \
         if (c->tr) return 0; c->tr = new {tracer}; c->m->trace(c->tr, 99); \
         c->tr->open(path); return c->tr->isOpen() ? 1 : 0; }}\n\
         void {prefix}_trace_dump(void* p, uint64_t t) {{ {handle}* c = ({handle}*)p; \
         if (c->tr) c->tr->dump(t); }}\n\
         void {prefix}_trace_close(void* p) {{ {handle}* c = ({handle}*)p; \
         if (c->tr) {{ c->tr->close(); delete c->tr; c->tr = nullptr; }} }}\n"
    )
}

/// One C accessor per port: `{prefix}_set_<input>`, `{prefix}_get_<output>`.
fn accessors_cpp(prefix: &str, handle: &str, ports: &[Port]) -> String {
    let mut s = String::new();
    for p in ports {
        let t = c_type(p.bits);
        if p.input {
            writeln!(
                s,
                "void {prefix}_set_{n}(void* p, {t} v) {{ (({handle}*)p)->m->{n} = v; }}",
                n = p.name
            )
            .unwrap();
        } else {
            writeln!(
                s,
                "{t} {prefix}_get_{n}(void* p) {{ return (({handle}*)p)->m->{n}; }}",
                n = p.name
            )
            .unwrap();
        }
    }
    s
}

/// The Rust side of [`accessors_cpp`]: FFI declarations and one method per port on `ty`
/// (`set_<input>`, `<output>`), which holds the handle in `raw`.
fn accessors_rust(prefix: &str, ty: &str, ports: &[Port]) -> String {
    let mut decls = String::from("// Generated by vassa-sim's build.rs.\nextern \"C\" {\n");
    let mut methods = format!("impl {ty} {{\n");
    for p in ports {
        let masked = if p.bits == 32 {
            "v".to_string()
        } else {
            format!("v & {:#x}", mask(p.bits))
        };
        if p.input {
            writeln!(
                decls,
                "    fn {prefix}_set_{}(p: *mut c_void, v: u32);",
                p.name
            )
            .unwrap();
            writeln!(
                methods,
                "    /// Drives input `{n}` ({b} bits; higher bits are dropped).\n    \
                 pub fn set_{n}(&mut self, v: u32) {{ unsafe {{ {prefix}_set_{n}(self.raw, {masked}) }} }}",
                n = p.name,
                b = p.bits
            )
            .unwrap();
        } else {
            writeln!(
                decls,
                "    fn {prefix}_get_{}(p: *mut c_void) -> u32;",
                p.name
            )
            .unwrap();
            writeln!(
                methods,
                "    /// Output `{n}` ({b} bits).\n    \
                 pub fn {n}(&self) -> u32 {{ unsafe {{ {prefix}_get_{n}(self.raw) }} }}",
                n = p.name,
                b = p.bits
            )
            .unwrap();
        }
    }
    decls + "}\n" + &methods + "}\n"
}

/// The FrontPanelCard's shim: a handle, eval, tracing and one accessor per port (two clocks,
/// so no batched cycle: `board::BoardSim` drives the clocks itself). Symbols `vassa_fp_*`.
fn write_fp_shim(out: &Path, ports: &[Port], fst: bool) {
    let (trace_h, tracer) = if fst {
        ("verilated_fst_c.h", "VerilatedFstC")
    } else {
        ("verilated_vcd_c.h", "VerilatedVcdC")
    };
    let mut s = format!(
        "// Generated by vassa-sim's build.rs.\n#include \"V{FP_TOP}.h\"\n\
         #include \"verilated.h\"\n#include \"{trace_h}\"\n#include <cstdint>\n\
         struct FpCard {{ VerilatedContext* ctx; V{FP_TOP}* m; {tracer}* tr; }};\n\
         extern \"C\" {{\n"
    );
    s += &handle_cpp("vassa_fp", "FpCard", FP_TOP, tracer);
    s += &accessors_cpp("vassa_fp", "FpCard", ports);
    s += "}\n";
    std::fs::write(out.join("fp_shim.cpp"), s).unwrap();
}

/// `fp_ports.rs`: the FFI declarations and one method per port on `board::FpModel`, and the
/// build constants of the simulated card.
fn write_fp_rust(out: &Path, ports: &[Port]) {
    let consts = format!(
        "/// Card memory of the simulated FrontPanelCard (bytes).\n\
         pub const FP_MEM_BYTES: usize = {};\n\
         /// LED pulse stretch of the simulated FrontPanelCard (core cycles).\n\
         pub const FP_LED_STRETCH_CYCLES: u32 = {FP_LED_STRETCH_CYCLES};\n",
        vassa_rtl::board::XEM6010_MEM_BYTES
    );
    std::fs::write(
        out.join("fp_ports.rs"),
        accessors_rust("vassa_fp", "FpModel", ports) + &consts,
    )
    .unwrap();
}
