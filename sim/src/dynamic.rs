//! Verilated cores at any generator parameters, built at run time.
//!
//! The default core is linked statically (`build.rs`). For other parameters
//! ([`crate::VerilatedCore::for_params`]) the cargo feature `build-models` generates the core's Verilog
//! with rust-hdl, verilates it, compiles it with the shim (`shim_gen.rs`, the generator
//! `build.rs` uses) and Verilator's runtime into a shared library, caches that on disk and
//! loads it. A process keeps every library it loaded (one per parameter set, never unloaded:
//! models hold `'static` tables), so later models at the same parameters cost no build and no
//! `dlopen`.
//!
//! Cache: [`cache_dir`], one directory per key. The key is a hash of everything the library
//! is made from: the Verilog, the Verilator and C++ compiler versions, the shim sources, the
//! command-line flags and the trace format (VCD, or FST with the feature `fst`). A build runs
//! in a temporary directory renamed into place when complete, under an exclusive lock on
//! `<key>.lock`, so concurrent processes (cargo's parallel test binaries) build a key once and
//! never see a half-written library. Old keys are never deleted: remove the directory to
//! reclaim the space.
//!
//! Isolation: the library carries its own Verilator runtime. Its model class is named per key
//! (Verilator's `--prefix`), its objects are compiled `-fPIC` and linked `-Bsymbolic` with a
//! version script that exports `vassa_table` alone, and it is opened `RTLD_LOCAL`: its runtime
//! binds neither to the static model's nor to another library's.

use crate::Table;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use vassa_spec::params::{CoreParams, ParamError};

/// Why a Verilated core could not be had. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid core parameters: {0}")]
    InvalidParams(#[from] ParamError),
    #[error(
        "a Verilated core at non-default parameters (built at run time) needs vassa-sim's \
         cargo feature `build-models`; this build has the default core only"
    )]
    FeatureNeeded,
    #[error("{tool} not found ({error}): {hint}")]
    ToolMissing {
        tool: &'static str,
        error: String,
        hint: &'static str,
    },
    #[error("cannot generate the core's Verilog: {0}")]
    Generate(String),
    #[error(
        "the core at these parameters has other ports than this vassa-sim was built with \
         ({0}): rebuild vassa-sim"
    )]
    PortMismatch(String),
    #[error("no model cache directory: set VASSA_MODEL_CACHE (or XDG_CACHE_HOME or HOME)")]
    NoCacheDir,
    #[error("model cache {}: {error}", path.display())]
    Cache { path: PathBuf, error: String },
    #[error("building the Verilated core failed ({step}); full log: {}", log.display())]
    BuildFailed { step: &'static str, log: PathBuf },
    #[error("cannot load the Verilated core {}: {error}", path.display())]
    Load { path: PathBuf, error: String },
}

/// A model library loaded by this process, kept for the life of the process.
pub(crate) struct Library {
    pub(crate) table: &'static Table,
    pub(crate) params: CoreParams,
    pub(crate) path: PathBuf,
}

static BUILDS: AtomicUsize = AtomicUsize::new(0);
static LOADS: AtomicUsize = AtomicUsize::new(0);
static CACHE_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Core libraries this process has built (each also counts in [`loads`]).
pub fn builds() -> usize {
    BUILDS.load(Ordering::Relaxed)
}

/// Core libraries this process has opened (at most one per parameter set).
pub fn loads() -> usize {
    LOADS.load(Ordering::Relaxed)
}

/// Uses `dir` as the model cache of this process from now on, whatever the environment says
/// (tests point it into the cargo target directory without touching the environment).
pub fn set_cache_dir(dir: impl Into<PathBuf>) {
    *CACHE_DIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.into());
}

/// The model cache: the directory given to [`set_cache_dir`], else `$VASSA_MODEL_CACHE`, else
/// `$XDG_CACHE_HOME/vassa/models`, else `~/.cache/vassa/models`.
pub fn cache_dir() -> Result<PathBuf, ModelError> {
    if let Some(dir) = CACHE_DIR.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        return Ok(dir);
    }
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("VASSA_MODEL_CACHE") {
        return Ok(dir.into());
    }
    // The XDG spec ignores a relative XDG_CACHE_HOME.
    if let Some(xdg) = var("XDG_CACHE_HOME").filter(|d| Path::new(d).is_absolute()) {
        return Ok(Path::new(&xdg).join("vassa/models"));
    }
    var("HOME")
        .map(|home| Path::new(&home).join(".cache/vassa/models"))
        .ok_or(ModelError::NoCacheDir)
}

/// The library of the core at `params` (valid): loaded by this process
/// already, or from the cache, or built.
pub(crate) fn library(params: &CoreParams) -> Result<&'static Library, ModelError> {
    #[cfg(feature = "build-models")]
    return builder::library(params);
    #[cfg(not(feature = "build-models"))]
    {
        let _ = params;
        Err(ModelError::FeatureNeeded)
    }
}

#[cfg(feature = "build-models")]
mod builder {
    use super::*;
    use crate::shim_gen::{self, Port, Shim};
    use std::collections::HashMap;
    use std::fs::{self, File, OpenOptions};
    use std::io::Write as _;
    use std::process::Command;
    use std::sync::{Arc, LazyLock};

    const TOP: &str = "vassa_core";
    const LIB: &str = "libvassa_core.so";
    /// Stands for the per-key class name in the sources the key is computed over.
    const CLASS_PLACEHOLDER: &str = "VASSA_CLASS";
    /// Bump when the build recipe below changes in a way the key does not see.
    const RECIPE: &str = "vassa model library 1";

    /// One slot per parameter set (by [`CoreParams::values`]), so a build of one set does not
    /// hold up loading another.
    type Slot = Arc<Mutex<Option<&'static Library>>>;
    static LOADED: LazyLock<Mutex<HashMap<[u32; 6], Slot>>> = LazyLock::new(Default::default);

    pub(super) fn library(params: &CoreParams) -> Result<&'static Library, ModelError> {
        let slot = LOADED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(params.values())
            .or_default()
            .clone();
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lib) = *slot {
            return Ok(lib);
        }
        let lib = load_or_build(params)?;
        *slot = Some(lib);
        Ok(lib)
    }

    /// The tools a build uses, with the versions that go into the key.
    struct Tools {
        verilator_version: String,
        verilator_root: PathBuf,
        cxx: String,
        cxx_version: String,
    }

    const VERILATOR_HINT: &str = "install it with `bash scripts/setup-tools.sh`";

    /// First line of `cmd --version`; a missing program is [`ModelError::ToolMissing`].
    fn version(tool: &'static str, cmd: &str, hint: &'static str) -> Result<String, ModelError> {
        let missing = |error: String| ModelError::ToolMissing { tool, error, hint };
        let out = Command::new(cmd)
            .arg("--version")
            .output()
            .map_err(|e| missing(format!("cannot run `{cmd}`: {e}")))?;
        if !out.status.success() {
            return Err(missing(format!("`{cmd} --version` failed")));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().next().unwrap_or_default().trim().to_string())
    }

    impl Tools {
        fn probe() -> Result<Tools, ModelError> {
            let verilator_version = version("Verilator", "verilator", VERILATOR_HINT)?;
            let verilator_root =
                shim_gen::verilator_root().map_err(|error| ModelError::ToolMissing {
                    tool: "Verilator",
                    error,
                    hint: VERILATOR_HINT,
                })?;
            let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
            let cxx_version = version("the C++ compiler", &cxx, "install g++ or set CXX")?;
            Ok(Tools {
                verilator_version,
                verilator_root,
                cxx,
                cxx_version,
            })
        }
    }

    /// The core's shim, as build.rs makes it for the static model but for the class name.
    fn core_shim<'a>(ports: &'a [Port], class: &'a str) -> Shim<'a> {
        Shim {
            prefix: "vassa",
            class,
            handle: "Card",
            ports,
            fst: cfg!(feature = "fst"),
            cycle: true,
        }
    }

    /// The sources and commands of one library; the key hashes all of it.
    struct Recipe {
        verilog: String,
        header: String,
        source: String,
        verilator_args: Vec<String>,
        /// The C++ compiler and its arguments, which compile the shim and the runtime and link.
        cxx: String,
        link_args: Vec<String>,
    }

    impl Recipe {
        fn new(verilog: String, ports: &[Port], tools: &Tools, class: &str) -> Recipe {
            let fst = cfg!(feature = "fst");
            let shim = core_shim(ports, class);
            let include = tools.verilator_root.join("include");
            let mut link_args: Vec<String> = ["-shared", "-O2", "-std=c++17", "-w", "-I.", "-Iobj"]
                .map(String::from)
                .to_vec();
            link_args.extend(shim_gen::PIC_FLAGS.map(String::from));
            link_args.push(format!("-I{}", include.display()));
            link_args.push(format!("-I{}", include.join("vltstd").display()));
            // The model archive, then Verilator's runtime (built here, as build.rs does: the
            // makefile of a library-only `--build` makes the archive alone).
            link_args.extend(["shim.cpp".into(), format!("obj/{class}__ALL.a")]);
            let trace_cpp = if fst {
                "verilated_fst_c.cpp"
            } else {
                "verilated_vcd_c.cpp"
            };
            for cpp in ["verilated.cpp", "verilated_threads.cpp", trace_cpp] {
                link_args.push(include.join(cpp).display().to_string());
            }
            link_args.extend(
                [
                    "-o",
                    LIB,
                    // The library's own references bind to its own definitions, and it exports
                    // the table alone.
                    "-Wl,-Bsymbolic",
                    "-Wl,--version-script=exports.map",
                    "-Wl,-z,defs",
                    "-lpthread",
                ]
                .map(String::from),
            );
            if fst {
                link_args.push("-lz".into());
            }
            Recipe {
                verilog,
                header: shim.header(),
                source: shim.source("shim.h"),
                verilator_args: shim_gen::verilator_args(TOP, class, "obj", fst, true),
                cxx: tools.cxx.clone(),
                link_args,
            }
        }

        /// Everything the library is made from but the Verilog, as text (`key.txt`).
        fn key_text(&self, tools: &Tools) -> String {
            format!(
                "{RECIPE}\ntrace: {}\nverilator: {}\ncxx: {} ({})\nverilator args: {:?}\n\
                 link args: {:?}\nwaivers: {:?}\n--- shim.h\n{}--- shim.cpp\n{}--- {TOP}.v: \
                 beside this file\n",
                crate::VerilatedCore::TRACE_FORMAT,
                tools.verilator_version,
                tools.cxx,
                tools.cxx_version,
                self.verilator_args,
                self.link_args,
                vassa_hdl_tools::hwcheck::VERILATOR_WAIVERS,
                self.header,
                self.source,
            )
        }
    }

    /// FNV-1a, 128 bits, in hex: names cache entries (not a defence against crafted inputs).
    fn hash(text: &str) -> String {
        let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
        for b in text.bytes() {
            h = (h ^ b as u128).wrapping_mul(0x0000000001000000000000000000013b);
        }
        format!("{h:032x}")
    }

    fn generate(params: &CoreParams) -> Result<String, ModelError> {
        // rust-hdl reports design errors by panicking; a parameter set that passed `validate`
        // should never do that, but a panic must not cross `for_params`.
        std::panic::catch_unwind(|| vassa_rtl::core::core_verilog(params)).map_err(|e| {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "rust-hdl panicked".into());
            ModelError::Generate(msg.replace('\n', " "))
        })
    }

    fn cache_error(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
        move |e| ModelError::Cache {
            path: path.to_path_buf(),
            error: e.to_string(),
        }
    }

    fn load_or_build(params: &CoreParams) -> Result<&'static Library, ModelError> {
        let verilog = generate(params)?;
        let ports = shim_gen::ports(&verilog, TOP).map_err(ModelError::Generate)?;
        let signature = core_shim(&ports, "").signature();
        if signature != crate::SIGNATURE {
            return Err(ModelError::PortMismatch(signature));
        }
        let tools = Tools::probe()?;
        let key_text =
            Recipe::new(verilog.clone(), &ports, &tools, CLASS_PLACEHOLDER).key_text(&tools);
        let key = hash(&(key_text.clone() + &verilog));
        let dir = cache_dir()?;
        fs::create_dir_all(&dir).map_err(cache_error(&dir))?;
        let entry = dir.join(&key);
        let lib = entry.join(LIB);
        if !lib.exists() {
            let _lock = lock(&dir, &key)?;
            // Another process may have built it while this one waited for the lock.
            if !lib.exists() {
                let class = format!("Vvassa_core_{}", &key[..16]);
                let recipe = Recipe::new(verilog, &ports, &tools, &class);
                build(&dir, &key, &recipe, &key_text, params)?;
                BUILDS.fetch_add(1, Ordering::Relaxed);
            }
        }
        load(lib, params)
    }

    /// Holds `<dir>/<key>.lock` exclusively until dropped (the lock file stays: deleting it
    /// would race with a process about to lock it).
    fn lock(dir: &Path, key: &str) -> Result<File, ModelError> {
        let path = dir.join(format!("{key}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(cache_error(&path))?;
        fs4::fs_std::FileExt::lock_exclusive(&file).map_err(cache_error(&path))?;
        Ok(file)
    }

    /// Builds into `<dir>/.tmp-<key>-<pid>` and renames that to `<dir>/<key>`. A failed build
    /// leaves its log in `<dir>/failed/<key>.log`.
    fn build(
        dir: &Path,
        key: &str,
        recipe: &Recipe,
        key_text: &str,
        params: &CoreParams,
    ) -> Result<(), ModelError> {
        // Builds of this key that died: nobody else builds it while this process holds its lock.
        let stale = format!(".tmp-{key}-");
        for e in fs::read_dir(dir).map_err(cache_error(dir))?.flatten() {
            if e.file_name().to_string_lossy().starts_with(&stale) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let tmp = dir.join(format!("{stale}{}", std::process::id()));
        fs::create_dir_all(&tmp).map_err(cache_error(&tmp))?;
        let log_path = tmp.join("build.log");
        eprintln!(
            "vassa-sim: building the Verilated core for {params:?} (once per parameter set; \
             log {})",
            dir.join(key).join("build.log").display()
        );
        let result = build_in(&tmp, recipe, key_text, &log_path);
        if let Err(step) = result {
            let failed = dir.join("failed");
            let log = failed.join(format!("{key}.log"));
            let _ = fs::create_dir_all(&failed);
            if fs::rename(&log_path, &log).is_err() {
                let _ = fs::copy(&log_path, &log);
            }
            let _ = fs::remove_dir_all(&tmp);
            return Err(ModelError::BuildFailed { step, log });
        }
        // The object files are only needed to link.
        let _ = fs::remove_dir_all(tmp.join("obj"));
        let entry = dir.join(key);
        match fs::rename(&tmp, &entry) {
            // Only a process that ignored the lock can have put it there first: use its copy.
            Err(_) if entry.join(LIB).exists() => {
                let _ = fs::remove_dir_all(&tmp);
                Ok(())
            }
            r => r.map_err(cache_error(&entry)),
        }
    }

    /// The steps of [`build`] in `tmp`; on failure, the step that failed (its output is in the
    /// log).
    fn build_in(
        tmp: &Path,
        recipe: &Recipe,
        key_text: &str,
        log_path: &Path,
    ) -> Result<(), &'static str> {
        let top_v = format!("{TOP}.v");
        let files = [
            ("key.txt", key_text),
            (top_v.as_str(), recipe.verilog.as_str()),
            ("waivers.vlt", vassa_hdl_tools::hwcheck::VERILATOR_WAIVERS),
            ("shim.h", recipe.header.as_str()),
            ("shim.cpp", recipe.source.as_str()),
            ("exports.map", "{ global: vassa_table; local: *; };\n"),
        ];
        let mut log = File::create(log_path).map_err(|_| "writing the sources")?;
        for (name, text) in files {
            fs::write(tmp.join(name), text).map_err(|_| "writing the sources")?;
        }
        let started = std::time::Instant::now();
        let mut verilate = Command::new("verilator");
        verilate.current_dir(tmp).args(&recipe.verilator_args);
        if !run(&mut log, &mut verilate) {
            return Err("verilator");
        }
        let mut link = Command::new(&recipe.cxx);
        link.current_dir(tmp).args(&recipe.link_args);
        if !run(&mut log, &mut link) {
            return Err("linking the shared library");
        }
        let _ = writeln!(log, "built in {:.1} s", started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Runs `cmd`, appending its command line and output to `log`; whether it succeeded.
    fn run(log: &mut File, cmd: &mut Command) -> bool {
        let _ = writeln!(log, "$ {cmd:?}");
        match cmd.output() {
            Ok(out) => {
                let _ = log.write_all(&out.stdout);
                let _ = log.write_all(&out.stderr);
                if !out.status.success() {
                    let _ = writeln!(log, "failed: {}", out.status);
                }
                out.status.success()
            }
            Err(e) => {
                let _ = writeln!(log, "cannot run: {e}");
                false
            }
        }
    }

    fn load(path: PathBuf, params: &CoreParams) -> Result<&'static Library, ModelError> {
        use libloading::os::unix::{Library as SharedObject, RTLD_LOCAL, RTLD_NOW};
        let error = |error: String| ModelError::Load {
            path: path.clone(),
            error: error.replace('\n', " "),
        };
        // Safety: a library this module built: its initialisers are Verilator's runtime.
        let so = unsafe { SharedObject::open(Some(&path), RTLD_NOW | RTLD_LOCAL) }
            .map_err(|e| error(e.to_string()))?;
        // Safety: `vassa_table` has this type in every shim (shim_gen.rs).
        let table = unsafe {
            let get = so
                .get::<unsafe extern "C" fn() -> *const Table>(b"vassa_table\0")
                .map_err(|e| error(e.to_string()))?;
            &*get()
        };
        if table.signature().to_bytes() != crate::SIGNATURE.as_bytes() {
            return Err(error(format!(
                "its ports are not this build's ({})",
                table.signature().to_string_lossy()
            )));
        }
        // Kept loaded for the life of the process: models hold `'static` tables.
        std::mem::forget(so);
        LOADS.fetch_add(1, Ordering::Relaxed);
        Ok(Box::leak(Box::new(Library {
            table,
            params: *params,
            path,
        })))
    }
}
