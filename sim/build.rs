//! Builds the Verilated VASSA core: generates the core's Verilog from vassa-rtl, runs the
//! system Verilator (5.006 or later) to compile it into a C++ model, compiles a generated C++
//! shim (`src/shim_gen.rs`: one function table per model) with Verilator's runtime, and writes
//! the matching Rust side to `$OUT_DIR/ports.rs`. Cargo reruns it when vassa-rtl (the RTL)
//! changes. This is the default-parameter core, linked statically; other parameter sets are
//! built at run time from the same generator (`src/dynamic.rs`, feature `build-models`).
//!
//! Tracing: one Verilated model supports one trace format (given both `--trace` and
//! `--trace-fst`, Verilator 5.006 generates FST only), so the format is a build choice: VCD by
//! default, FST with the cargo feature `fst` (adds `verilated_fst_c.cpp`, which includes
//! gtkwave's fstapi/lz4/fastlz sources, and links zlib).
//!
//! Besides the per-port accessors the shim has a batched cycle (all inputs in, one clock
//! cycle, all outputs out: one FFI call a cycle) and `csrc/two_cards.cpp`, a two-card loop
//! written entirely in C++ that the benchmark compares the Rust-driven loop against.

use std::path::{Path, PathBuf};
use std::process::Command;
use vassa_spec::params::CoreParams;

// The generator of the C++ shim and its Rust side, shared with the run-time builder.
#[path = "src/shim_gen.rs"]
mod shim_gen;
use shim_gen::Shim;

const TOP: &str = "vassa_core";
/// Top module of the Verilated FrontPanelCard.
const FP_TOP: &str = "vassa_fp_card";
/// LED pulse stretch of the simulated FrontPanelCard (core cycles): short, so tests see pulses.
const FP_LED_STRETCH_CYCLES: u32 = 64;

fn missing_verilator(e: String) -> ! {
    panic!(
        "\n\nvassa-sim needs Verilator (5.006 or later) on PATH: {e}.\n\
         Install it with `bash scripts/setup-tools.sh` (Debian package `verilator`).\n\n"
    )
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
    let obj_dir = out.join(obj);
    let _ = std::fs::remove_dir_all(&obj_dir);
    let class = format!("V{top}");
    run(
        Command::new("verilator")
            .current_dir(out)
            .args(shim_gen::verilator_args(top, &class, obj, fst, false)),
        &format!("verilator ({top})"),
    );
    // Verilator names the archive without the `lib` prefix the linker looks for.
    std::fs::copy(
        obj_dir.join(format!("{class}__ALL.a")),
        obj_dir.join(format!("lib{top}_model.a")),
    )
    .unwrap();
    obj_dir
}

fn link_model(obj: &Path, top: &str) {
    println!("cargo:rustc-link-search=native={}", obj.display());
    println!("cargo:rustc-link-lib=static={top}_model");
}

/// One statically linked model: its top module, object directory, shim and Rust handle.
struct Static {
    top: &'static str,
    obj: &'static str,
    /// The shim's table function is `{prefix}_table`.
    prefix: &'static str,
    /// The C++ handle struct.
    handle: &'static str,
    /// The shim's header (the source is the same name in `.cpp`).
    header: &'static str,
    /// The Rust side's file and handle type.
    rust: &'static str,
    ty: &'static str,
    cycle: bool,
}

impl Static {
    /// Writes `verilog`, verilates it and writes its shim and Rust side; returns the object
    /// directory and the shim's source.
    fn build(&self, out: &Path, verilog: &str, fst: bool) -> (PathBuf, PathBuf) {
        std::fs::write(out.join(format!("{}.v", self.top)), verilog).unwrap();
        let obj = verilate(out, self.top, self.obj, fst);
        let ports = shim_gen::ports(verilog, self.top).unwrap();
        let shim = Shim {
            prefix: self.prefix,
            class: &format!("V{}", self.top),
            handle: self.handle,
            ports: &ports,
            fst,
            cycle: self.cycle,
        };
        std::fs::write(out.join(self.header), shim.header()).unwrap();
        let cpp = out.join(self.header.replace(".h", ".cpp"));
        std::fs::write(&cpp, shim.source(self.header)).unwrap();
        std::fs::write(out.join(self.rust), shim.rust(self.ty)).unwrap();
        (obj, cpp)
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/shim_gen.rs");
    println!("cargo:rerun-if-changed=csrc/two_cards.cpp");
    let fst = std::env::var_os("CARGO_FEATURE_FST").is_some();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let root = shim_gen::verilator_root().unwrap_or_else(|e| missing_verilator(e));
    let params = CoreParams::default();
    std::fs::write(
        out.join("waivers.vlt"),
        vassa_hdl_tools::hwcheck::VERILATOR_WAIVERS,
    )
    .unwrap();

    // The core alone (`VerilatedCore`, `Card`).
    let (obj, core_cpp) = Static {
        top: TOP,
        obj: "obj",
        prefix: "vassa",
        handle: "Card",
        header: "shim.h",
        rust: "ports.rs",
        ty: "VerilatedCore",
        cycle: true,
    }
    .build(&out, &vassa_rtl::core::core_verilog(&params), fst);

    // The XEM6010's FrontPanelCard (`board::BoardSim`).
    let fp_verilog = vassa_rtl::board::frontpanel_card::frontpanel_card_verilog(
        &params,
        vassa_rtl::board::XEM6010_MEM_BYTES,
        FP_LED_STRETCH_CYCLES,
        FP_TOP,
    );
    let (fp_obj, fp_cpp) = Static {
        top: FP_TOP,
        obj: "fp_obj",
        prefix: "vassa_fp",
        handle: "FpCard",
        header: "fp_shim.h",
        rust: "fp_ports.rs",
        ty: "FpModel",
        cycle: false,
    }
    .build(&out, &fp_verilog, fst);
    // The simulated card's build constants, beside its ports.
    let consts = format!(
        "/// Card memory of the simulated FrontPanelCard (bytes).\n\
         pub const FP_MEM_BYTES: usize = {};\n\
         /// LED pulse stretch of the simulated FrontPanelCard (core cycles).\n\
         pub const FP_LED_STRETCH_CYCLES: u32 = {FP_LED_STRETCH_CYCLES};\n",
        vassa_rtl::board::XEM6010_MEM_BYTES
    );
    std::fs::write(out.join("fp_consts.rs"), consts).unwrap();

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
        .file(core_cpp)
        .file(fp_cpp)
        .file(manifest.join("csrc/two_cards.cpp"))
        .file(include.join("verilated.cpp"))
        .file(include.join("verilated_threads.cpp"))
        .file(include.join(if fst {
            "verilated_fst_c.cpp"
        } else {
            "verilated_vcd_c.cpp"
        }))
        .compile("vassa_shim");
    // After the shim, which refers to the models.
    link_model(&obj, TOP);
    link_model(&fp_obj, FP_TOP);
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=pthread");
    if fst {
        println!("cargo:rustc-link-lib=dylib=z");
    }
}
