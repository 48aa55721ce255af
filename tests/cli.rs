//! The `vassa` command line: generated files and error paths.

mod common;

use std::path::Path;
use std::time::Duration;

/// Longest a run may take (`gen --place` runs nextpnr).
const LIMIT: Duration = Duration::from_secs(600);

/// `vassa args` in the package's directory (for `examples/`): status, stdout, stderr.
fn vassa(args: &[&str]) -> (i32, String, String) {
    let run = common::vassa(Path::new(env!("CARGO_MANIFEST_DIR")), args, LIMIT);
    (run.status, run.stdout, run.stderr)
}

/// `vassa gen --out <out>` with `flags`.
fn gen(out: &Path, flags: &[&str]) -> (i32, String, String) {
    let mut args = vec!["gen", "--out", out.to_str().unwrap()];
    args.extend_from_slice(flags);
    vassa(&args)
}

/// The words of a command line without paths.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// A temporary directory, removed when dropped (also when a test fails).
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[test]
fn gen_writes_the_core_and_a_report_with_the_flags_applied() {
    let tmp = scratch();
    let dir = tmp.path();
    let params = dir.join("p.toml");
    std::fs::write(&params, "rx_cache_entries = 4\nmax_payload = 64\n").unwrap();
    let out = dir.join("out");
    let (code, _, err) = gen(
        &out,
        &["--params", params.to_str().unwrap(), "--max-payload", "128"],
    );
    assert_eq!(code, 0, "{err}");
    let verilog = std::fs::read_to_string(out.join("vassa_core.v")).unwrap();
    assert!(verilog.contains("module vassa_core("));
    let report = std::fs::read_to_string(out.join("params.txt")).unwrap();
    assert!(report.contains("rx_cache_entries          4"), "{report}");
    assert!(
        report.contains("max_payload             128"),
        "flag overrides file: {report}"
    );
}

#[test]
fn bad_parameters_get_one_clear_error_exit_2_for_flags_and_1_for_files() {
    let tmp = scratch();
    let dir = tmp.path();
    let (code, _, err) = gen(dir, &["--rx-cache-entries", "12"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--rx-cache-entries 12: must be a power of two"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let (code, _, err) = gen(dir, &["--line-bytes", "6"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--line-bytes 6: must be a power of two"),
        "{err}"
    );

    let file = dir.join("bad.toml");
    std::fs::write(&file, "tx_cache_entries = 8\ncache_size = 3\n").unwrap();
    let (code, _, err) = gen(dir, &["--params", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.toml:2:1: cache_size: unknown field `cache_size`"),
        "names the file, line and field: {err}"
    );

    let (code, _, err) = gen(dir, &["--params", "/nonexistent.toml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--params /nonexistent.toml: does not exist"),
        "{err}"
    );

    let (code, _, err) = vassa(&["gen"]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to do"), "{err}");
}

#[test]
fn docs_flag_writes_the_generated_tables() {
    let tmp = scratch();
    let dir = tmp.path();
    let (code, _, err) = vassa(&["gen", "--docs", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for name in ["registers.md", "packet.md", "parameters.md", "scenario.md"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let checked_in = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("docs")
                .join(name),
        )
        .unwrap();
        assert_eq!(text, checked_in, "{name}");
    }
}

/// Bad scenario files and bad flags: one line on stderr naming what is wrong, a non-zero
/// status, no panic.
#[test]
fn sim_errors_are_one_line_and_never_a_panic() {
    let tmp = scratch();
    let dir = tmp.path();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\n[[channels]]\nname = \"c\"\nkind = \"unicast\"\nwriters = [\"a\"]\nreaders = [\"z\"]\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    let quick = "examples/quickstart.toml";
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &["sim", "--scenario", bad],
            1,
            "bad.toml:9:12: channels[0].readers[0]: node \"z\"",
        ),
        (
            &["sim", "--scenario", "no/such.toml"],
            1,
            "--scenario no/such.toml: directory no does not exist",
        ),
        (&["sim"], 2, "--scenario"),
        (&["sim", "--scenario", quick, "--colour"], 2, "'--colour'"),
        (
            &["sim", "--scenario", quick, "--backend", "fpga"],
            2,
            "--backend fpga: expected rtl or model",
        ),
        (
            &[
                "sim",
                "--scenario",
                quick,
                "--backend",
                "model",
                "--trace",
                "t.vcd",
            ],
            2,
            "--trace needs the rtl backend",
        ),
    ];
    for (args, status, needle) in cases {
        let (code, out, err) = vassa(args);
        assert_eq!(code, status, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("vassa: error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked") && out.is_empty(), "{args:?}");
    }
}

#[test]
fn sim_json_report_balances_and_dumps_memory() {
    let tmp = scratch();
    let dir = tmp.path();
    let dump = dir.join("mem");
    let (code, out, err) = vassa(&[
        "sim",
        "--scenario",
        "examples/faults.toml",
        "--backend",
        "model",
        "--json",
        "--dump-memory",
        dump.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(r["backend"], "model");
    assert_eq!(r["accounting"]["balanced"], true);
    assert!(
        r["accounting"]["dropped_by_reason"]["drop_crc_epoch"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(r["channels"][0]["sent"], 200);
    assert!(r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["passed"] == true));
    for node in ["src", "dst1", "dst2"] {
        assert!(dump.join(format!("{node}.mem")).is_file());
        assert!(dump.join(format!("{node}.json")).is_file());
    }
}

#[test]
fn demo_on_the_model_prints_its_story_and_passes() {
    let (code, out, err) = vassa(&["demo", "--backend", "model"]);
    assert_eq!(code, 0, "{out}{err}");
    for needle in [
        "VASSA demo: 3 cards",
        "Channel \"quotes\" (multicast)",
        "mapping misses",
        "every copy accounted for",
        "Drops by reason",
        "[ok] every delivered message verified",
    ] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
    assert!(!out.contains("FAILED"), "{out}");
}

#[test]
fn constraints_flag_writes_the_board_pin_files() {
    let tmp = scratch();
    let dir = tmp.path();
    let (code, _, err) = vassa(&["gen", "--constraints", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let pcf = std::fs::read_to_string(dir.join("alchitry_cu.pcf")).unwrap();
    assert!(pcf.contains("set_io clock P7"), "{pcf}");
}

#[test]
fn synth_refuses_unknown_boards_and_bad_parameters_in_one_line() {
    let (code, _, err) = vassa(&["synth", "--board", "de10", "--out", "/tmp/x"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("de10"), "{err}");
    let (code, _, err) = vassa(&words(
        "synth --board cu --out /tmp/x --rx-cache-entries 12",
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("power of two"), "{err}");
}

/// `gen --place` places and routes the core on an iCE40-HX8K and reports what nextpnr reached
/// (small parameters keep it under a minute).
#[test]
fn gen_place_reports_use_fmax_and_the_critical_path() {
    let tmp = scratch();
    let out = tmp.path();
    let small = "--tx-cache-entries 2 --rx-cache-entries 2 --counter-slots 4 --max-payload 64";
    let (code, stdout, err) = gen(out, &words(&format!("--place {small}")));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("iCE40-HX8K place and route"), "{stdout}");
    let fmax: f64 = stdout
        .split("fmax ")
        .nth(1)
        .and_then(|t| t.split(" MHz").next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no fmax in {stdout}"));
    assert!(fmax > 1.0 && fmax < 1000.0, "{fmax}");
    let path = std::fs::read_to_string(out.join("critical_path.txt")).unwrap();
    assert!(path.contains("Source") && path.contains("Setup"), "{path}");
    let report = std::fs::read_to_string(out.join("params.txt")).unwrap();
    assert!(report.contains("critical path from core."), "{report}");
}

/// Output that cannot be written (a full disk, a reader that went away) is an error, not a
/// panic.
#[test]
fn a_stdout_that_takes_nothing_is_an_error_not_a_panic() {
    let tmp = scratch();
    let full = std::fs::File::create("/dev/full").expect("/dev/full");
    let docs = tmp.path().join("docs");
    let run = common::vassa_to(
        full.into(),
        tmp.path(),
        &["gen", "--docs", docs.to_str().unwrap()],
        LIMIT,
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "vassa: error: cannot write to stdout: no space left on device\n"
    );
}
