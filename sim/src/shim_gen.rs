//! The C++ shim over a Verilated model and its Rust side, generated from the model's Verilog
//! ports. One file for both users — `build.rs` (the statically linked default core and the
//! FrontPanelCard, via `#[path]`) and `dynamic` (cores built at run time) — so a model loaded
//! from a shared library and the static one are driven through the same function table.
//!
//! The shim's functions have internal linkage; the one exported symbol, `{prefix}_table()`,
//! returns a table of pointers to them that starts with a signature of the ports (names and
//! directions, which fix the table's layout). The Rust side checks it before using the table.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

pub use vassa_hdl_tools::hwcheck::Port;

/// The ports of module `top` (read by the one Verilog port reader,
/// `vassa_hdl_tools::hwcheck::module_ports`). Ports are driven as `uint32_t`, so a port wider
/// than 32 bits is an error.
pub fn ports(verilog: &str, top: &str) -> Result<Vec<Port>, String> {
    let ports = vassa_hdl_tools::hwcheck::module_ports(verilog, top);
    if ports.is_empty() {
        return Err(format!(
            "no module {top} with ports in the generated Verilog"
        ));
    }
    if let Some(p) = ports.iter().find(|p| p.bits > 32) {
        return Err(format!(
            "port {} of {top} is {} bits wide: the shim drives ports as 32-bit words (wider \
             ports need VlWide accessors)",
            p.name, p.bits
        ));
    }
    Ok(ports)
}

/// Mask of a port's bits in a `uint32_t`.
fn mask(bits: usize) -> u64 {
    (1u64 << bits) - 1
}

/// C++ flags of code that goes into a shared library: position-independent (Debian's default
/// is PIE, which cannot be), and without GCC's assumption that global functions may be
/// interposed, which stops it inlining them (the library is linked `-Bsymbolic`: they cannot).
pub const PIC_FLAGS: [&str; 2] = ["-fPIC", "-fno-semantic-interposition"];

/// The command-line arguments of `verilator` that compile `{top}.v` (with `waivers.vlt`, both in
/// the working directory) into `mdir`: the same for the static and the run-time models, so
/// both run at the same speed. `class` is Verilator's `--prefix` (the C++ class name).
pub fn verilator_args(top: &str, class: &str, mdir: &str, fst: bool, pic: bool) -> Vec<String> {
    let mut args: Vec<String> = [
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
        "--prefix",
        class,
        "--top-module",
        top,
        "--Mdir",
        mdir,
    ]
    .map(String::from)
    .to_vec();
    if pic {
        args.extend(
            PIC_FLAGS
                .iter()
                .flat_map(|f| ["-CFLAGS".into(), f.to_string()]),
        );
    }
    args.extend(["waivers.vlt".into(), format!("{top}.v")]);
    args
}

/// Verilator's install root (its `include/` has the runtime sources), from the `verilator` on
/// PATH.
pub fn verilator_root() -> Result<PathBuf, String> {
    let out = Command::new("verilator")
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .map_err(|e| format!("cannot run verilator: {e}"))?;
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || root.is_empty() {
        return Err("`verilator --getenv VERILATOR_ROOT` gave no directory".into());
    }
    Ok(PathBuf::from(root))
}

/// The shim of one Verilated model.
pub struct Shim<'a> {
    /// The exported table function is `{prefix}_table`.
    pub prefix: &'a str,
    /// The Verilated C++ class (`--prefix`; Verilator's default is `V{top}`).
    pub class: &'a str,
    /// The C++ handle struct (context, model, tracer).
    pub handle: &'a str,
    pub ports: &'a [Port],
    /// FST tracing instead of VCD (one Verilated model supports one format).
    pub fst: bool,
    /// A single-clock model with a `clock` port: adds the batched cycle (`VassaIn`,
    /// `VassaOut`, `vassa_cycle_inline`, and the table's `cycle`).
    pub cycle: bool,
}

impl Shim<'_> {
    fn inputs(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter().filter(|p| p.input && p.name != "clock")
    }

    fn outputs(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter().filter(|p| !p.input)
    }

    /// What the table's layout depends on: the ports' names and directions, in order.
    pub fn signature(&self) -> String {
        let mut s = format!("vassa-shim 1;cycle={}", self.cycle);
        for p in self.ports {
            write!(s, ";{}{}", if p.input { "in:" } else { "out:" }, p.name).unwrap();
        }
        s
    }

    /// The header: the handle and, with [`Shim::cycle`], the batched cycle (shared with
    /// `csrc/two_cards.cpp`).
    pub fn header(&self) -> String {
        let (class, handle) = (self.class, self.handle);
        let (trace_h, tracer) = tracer(self.fst);
        let mut h = format!(
            "// Generated by vassa-sim (src/shim_gen.rs).\n#pragma once\n#include \"{class}.h\"\n\
             #include \"verilated.h\"\n#include \"{trace_h}\"\n#include <cstdint>\n\
             struct {handle} {{ VerilatedContext* ctx; {class}* m; {tracer}* tr; }};\n"
        );
        if !self.cycle {
            return h;
        }
        h += "// Every input port but the clock, then every output port, in port order.\n\
              struct VassaIn {\n";
        for p in self.inputs() {
            writeln!(h, "  uint32_t {};", p.name).unwrap();
        }
        h += "};\nstruct VassaOut {\n";
        for p in self.outputs() {
            writeln!(h, "  uint32_t {};", p.name).unwrap();
        }
        write!(
            h,
            "}};\n\
             // One clock cycle: inputs applied with the clock low and settled, outputs sampled\n\
             // (trace time t), rising edge (trace time t + 1). The clock is left high.\n\
             static inline void vassa_cycle_inline({handle}* c, const VassaIn* in, VassaOut* out, \
             uint64_t t) {{\n  {class}* m = c->m;\n  m->clock = 0;\n"
        )
        .unwrap();
        for p in self.inputs() {
            writeln!(
                h,
                "  m->{n} = in->{n} & {m:#x}u;",
                n = p.name,
                m = mask(p.bits)
            )
            .unwrap();
        }
        h += "  m->eval();\n  if (c->tr) c->tr->dump(t);\n";
        for p in self.outputs() {
            writeln!(h, "  out->{n} = m->{n};", n = p.name).unwrap();
        }
        h += "  m->clock = 1;\n  m->eval();\n  if (c->tr) c->tr->dump(t + 1);\n}\n";
        h
    }

    /// The source: the functions (internal linkage) and the exported table. `header` is the
    /// file name of [`Shim::header`]'s output.
    pub fn source(&self, header: &str) -> String {
        let (prefix, handle) = (self.prefix, self.handle);
        let (_, tracer) = tracer(self.fst);
        let mut s = format!(
            "// Generated by vassa-sim (src/shim_gen.rs).\n#include \"{header}\"\nnamespace {{\n\
             void* s_new() {{ {handle}* c = new {handle}; c->ctx = new VerilatedContext; \
             c->ctx->traceEverOn(true); c->m = new {class}{{c->ctx}}; c->tr = nullptr; \
             return c; }}\n\
             void s_free(void* p) {{ {handle}* c = ({handle}*)p; c->m->final(); \
             if (c->tr) {{ c->tr->close(); delete c->tr; }} delete c->m; delete c->ctx; \
             delete c; }}\n\
             void s_eval(void* p) {{ (({handle}*)p)->m->eval(); }}\n\
             int s_trace_open(void* p, const char* path) {{ {handle}* c = ({handle}*)p; \
             if (c->tr) return 0; c->tr = new {tracer}; c->m->trace(c->tr, 99); \
             c->tr->open(path); return c->tr->isOpen() ? 1 : 0; }}\n\
             void s_trace_dump(void* p, uint64_t t) {{ {handle}* c = ({handle}*)p; \
             if (c->tr) c->tr->dump(t); }}\n\
             void s_trace_close(void* p) {{ {handle}* c = ({handle}*)p; \
             if (c->tr) {{ c->tr->close(); delete c->tr; c->tr = nullptr; }} }}\n",
            class = self.class
        );
        let mut fields = String::from(
            "  const char* signature;\n  void* (*new_)();\n  void (*free)(void*);\n  \
             void (*eval)(void*);\n  int (*trace_open)(void*, const char*);\n  \
             void (*trace_dump)(void*, uint64_t);\n  void (*trace_close)(void*);\n",
        );
        let mut init = format!(
            "    {:?},\n    s_new, s_free, s_eval, s_trace_open, s_trace_dump, s_trace_close,\n",
            self.signature()
        );
        if self.cycle {
            s += &format!(
                "void s_cycle(void* p, const VassaIn* in, VassaOut* out, uint64_t t) {{ \
                 vassa_cycle_inline(({handle}*)p, in, out, t); }}\n"
            );
            fields += "  void (*cycle)(void*, const VassaIn*, VassaOut*, uint64_t);\n";
            init += "    s_cycle,\n";
        }
        for p in self.ports {
            let n = &p.name;
            if p.input {
                writeln!(
                    s,
                    "void set_{n}(void* p, uint32_t v) {{ (({handle}*)p)->m->{n} = v & {m:#x}u; }}",
                    m = mask(p.bits)
                )
                .unwrap();
                writeln!(fields, "  void (*set_{n})(void*, uint32_t);").unwrap();
                writeln!(init, "    set_{n},").unwrap();
            } else {
                writeln!(
                    s,
                    "uint32_t get_{n}(void* p) {{ return (({handle}*)p)->m->{n}; }}"
                )
                .unwrap();
                writeln!(fields, "  uint32_t (*get_{n})(void*);").unwrap();
                writeln!(init, "    get_{n},").unwrap();
            }
        }
        write!(
            s,
            "struct Table {{\n{fields}}};\n}}  // namespace\n\
             extern \"C\" const void* {prefix}_table() {{\n  static const Table t = {{\n{init}  }};\n  \
             return &t;\n}}\n"
        )
        .unwrap();
        s
    }
}

// The Rust side is generated by build.rs only: the run-time builder's libraries match the
// table compiled into the crate.
#[allow(dead_code)]
impl Shim<'_> {
    /// The Rust side, for a module that defines the handle type `ty` (fields `raw`, the C++
    /// handle, and `t: &'static Table`): `Table` (the C table, field for field), the static
    /// model's `{prefix}_table`, `SIGNATURE`, one method per port on `ty` (`set_<input>`,
    /// `<output>`), and with [`Shim::cycle`] the `Inputs` and `Outputs` structs.
    pub fn rust(&self, ty: &str) -> String {
        let prefix = self.prefix;
        let mut table = format!(
            "// Generated by vassa-sim's build.rs (src/shim_gen.rs).\n\
             /// The functions of a `{prefix}` shim: the static model's or a loaded library's.\n\
             #[repr(C)]\n\
             // A model's Rust side may leave some functions unused (the board traces nothing).\n\
             #[allow(dead_code)]\npub(crate) struct Table {{\n    signature: *const std::os::raw::c_char,\n    \
             new: unsafe extern \"C\" fn() -> *mut c_void,\n    \
             free: unsafe extern \"C\" fn(*mut c_void),\n    \
             eval: unsafe extern \"C\" fn(*mut c_void),\n    \
             trace_open: unsafe extern \"C\" fn(*mut c_void, *const std::os::raw::c_char) -> i32,\n    \
             trace_dump: unsafe extern \"C\" fn(*mut c_void, u64),\n    \
             trace_close: unsafe extern \"C\" fn(*mut c_void),\n"
        );
        if self.cycle {
            table += "    cycle: unsafe extern \"C\" fn(*mut c_void, *const Inputs, *mut Outputs, u64),\n";
        }
        let mut methods = format!("impl {ty} {{\n");
        for p in self.ports {
            let (n, b) = (&p.name, p.bits);
            if p.input {
                writeln!(
                    table,
                    "    set_{n}: unsafe extern \"C\" fn(*mut c_void, u32),"
                )
                .unwrap();
                writeln!(
                    methods,
                    "    /// Drives input `{n}` ({b} bits; higher bits are dropped).\n    \
                     pub fn set_{n}(&mut self, v: u32) {{ unsafe {{ (self.t.set_{n})(self.raw, v) }} }}"
                )
                .unwrap();
            } else {
                writeln!(
                    table,
                    "    get_{n}: unsafe extern \"C\" fn(*mut c_void) -> u32,"
                )
                .unwrap();
                writeln!(
                    methods,
                    "    /// Output `{n}` ({b} bits).\n    \
                     pub fn {n}(&self) -> u32 {{ unsafe {{ (self.t.get_{n})(self.raw) }} }}"
                )
                .unwrap();
            }
        }
        write!(
            table,
            "}}\n\
             // The table holds pointers to immutable static data and functions.\n\
             unsafe impl Sync for Table {{}}\n\
             unsafe impl Send for Table {{}}\n\
             impl Table {{\n    \
             /// The ports this table was generated for (see [`SIGNATURE`]).\n    \
             pub(crate) fn signature(&self) -> &std::ffi::CStr {{\n        \
             unsafe {{ std::ffi::CStr::from_ptr(self.signature) }}\n    }}\n}}\n\
             extern \"C\" {{\n    fn {prefix}_table() -> *const Table;\n}}\n\
             /// The statically linked model's table.\n\
             pub(crate) fn static_table() -> &'static Table {{\n    \
             let t = unsafe {{ &*{prefix}_table() }};\n    \
             debug_assert_eq!(t.signature().to_bytes(), SIGNATURE.as_bytes());\n    t\n}}\n\
             /// The ports of this build's model, names and directions: a loaded library must \
             match.\n\
             pub(crate) const SIGNATURE: &str = {:?};\n",
            self.signature()
        )
        .unwrap();
        let mut out = table + &methods + "}\n";
        if self.cycle {
            out += &self.rust_structs();
        }
        out
    }

    /// `Inputs` and `Outputs`, field for field as `VassaIn` and `VassaOut`.
    fn rust_structs(&self) -> String {
        let mut s = String::from(
            "/// Every input port but the clock, as [`VerilatedCore::cycle`] takes them (higher bits \
             than the port's width are dropped).\n#[repr(C)]\n\
             #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]\npub struct Inputs {\n",
        );
        for p in self.inputs() {
            writeln!(s, "    /// {} bits.\n    pub {}: u32,", p.bits, p.name).unwrap();
        }
        s += "}\n/// Every output port, sampled before the rising edge.\n#[repr(C)]\n\
              #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]\npub struct Outputs {\n";
        for p in self.outputs() {
            writeln!(s, "    /// {} bits.\n    pub {}: u32,", p.bits, p.name).unwrap();
        }
        s + "}\n"
    }
}

/// The trace header and class of a format.
fn tracer(fst: bool) -> (&'static str, &'static str) {
    if fst {
        ("verilated_fst_c.h", "VerilatedFstC")
    } else {
        ("verilated_vcd_c.h", "VerilatedVcdC")
    }
}
