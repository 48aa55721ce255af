//! Shared by the command-line tests: the `vassa` binary run with a time limit, and the files
//! their command lines name.

#![allow(dead_code)] // each test file uses part of it

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run of the binary gave.
pub struct Run {
    /// The exit status; -1 when a signal ended it.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `vassa args` in `dir`; a run longer than `limit` is killed and fails the test.
pub fn vassa<S: AsRef<OsStr>>(dir: &Path, args: &[S], limit: Duration) -> Run {
    vassa_to(Stdio::piped(), dir, args, limit)
}

/// [`vassa`] with its stdout going to `stdout` (`Run::stdout` is then empty).
pub fn vassa_to<S: AsRef<OsStr>>(stdout: Stdio, dir: &Path, args: &[S], limit: Duration) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vassa"))
        // Cores at other parameters are built into the target directory, as in the crates' tests.
        .env(
            "VASSA_MODEL_CACHE",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/vassa-models"),
        )
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vassa");
    // Read both pipes while waiting, so that a chatty run cannot block on a full one.
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for vassa") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let args: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
            panic!("vassa {args:?} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Run {
        status: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Two nodes and a unicast channel from a to b: a valid scenario to build on.
pub const SCENARIO: &str = "[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\n[[channels]]\n\
    name = \"x\"\nkind = \"unicast\"\nwriters = [\"a\"]\nreaders = [\"b\"]\n";

/// Files every command line may name, written into `dir`: `ok.toml` (a valid scenario for
/// the rtl backend), `model.toml` (one for the model), `core.toml` (one that sets
/// `[sim.core]`, so not for rtl), `p.toml` (a parameter file, `max_payload = 4096`), `file` (a
/// plain file) and `dir` (an empty directory).
pub fn fixtures(dir: &Path) {
    let files = [
        ("ok.toml", SCENARIO.to_string()),
        (
            "model.toml",
            format!("[sim]\nbackend = \"model\"\n{SCENARIO}"),
        ),
        (
            "core.toml",
            format!("[sim.core]\nrx_cache_entries = 4\n{SCENARIO}"),
        ),
        ("p.toml", "max_payload = 4096\n".to_string()),
        ("file", "a file, not a directory\n".to_string()),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write a fixture");
    }
    std::fs::create_dir(dir.join("dir")).expect("make a fixture directory");
}

/// Every path under `dir`, sorted (directories end in `/`).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("list a directory") {
            let path = entry.expect("a directory entry").path();
            let mut name = path.strip_prefix(dir).unwrap().display().to_string();
            if path.is_dir() {
                name.push('/');
                todo.push(path);
            }
            out.push(name);
        }
    }
    out.sort();
    out
}
