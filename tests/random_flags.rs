//! Random command lines never panic: each is parsed and prepared in-process (files read,
//! paths checked, nothing run), and one that fails is run through the binary too, which must
//! exit with the same status and the same single line on stderr. A command line that
//! prepares cleanly would start a simulation or a synthesis run, so the binary is not run on
//! it.

mod common;

use common::{fixtures, vassa};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

/// What a flag takes.
#[derive(Clone, Copy, PartialEq)]
enum Takes {
    Nothing,
    Path,
    Number,
    Backend,
    Board,
}

const FLAGS: &[(&str, Takes)] = &[
    ("--scenario", Takes::Path),
    ("--backend", Takes::Backend),
    ("--json", Takes::Nothing),
    ("--trace", Takes::Path),
    ("--dump-memory", Takes::Path),
    ("--out", Takes::Path),
    ("--docs", Takes::Path),
    ("--constraints", Takes::Path),
    ("--params", Takes::Path),
    ("--lint", Takes::Nothing),
    ("--synth", Takes::Nothing),
    ("--place", Takes::Nothing),
    ("--tx-cache-entries", Takes::Number),
    ("--rx-cache-entries", Takes::Number),
    ("--line-bytes", Takes::Number),
    ("--max-payload", Takes::Number),
    ("--miss-buffer-packets", Takes::Number),
    ("--counter-slots", Takes::Number),
    ("--board", Takes::Board),
    ("--mem-bytes", Takes::Number),
    ("--quick", Takes::Nothing),
    ("--cycles", Takes::Number),
    ("--colour", Takes::Nothing),
];

const PARAMS: [&str; 7] = [
    "--params",
    "--tx-cache-entries",
    "--rx-cache-entries",
    "--line-bytes",
    "--max-payload",
    "--miss-buffer-packets",
    "--counter-slots",
];

/// Each command: its words, the flags it takes and how many of them (from the first) it
/// needs.
fn commands() -> Vec<(Vec<&'static str>, Vec<&'static str>, usize)> {
    let gen = [
        &[
            "--out",
            "--docs",
            "--constraints",
            "--lint",
            "--synth",
            "--place",
        ][..],
        &PARAMS,
    ];
    let synth = [&["--board", "--out", "--mem-bytes", "--json"][..], &PARAMS];
    vec![
        (vec!["demo"], vec!["--backend", "--json"], 0),
        (
            vec!["sim"],
            vec![
                "--scenario",
                "--backend",
                "--json",
                "--trace",
                "--dump-memory",
            ],
            1,
        ),
        (vec!["gen"], gen.concat(), 0),
        (vec!["synth"], synth.concat(), 2),
        (vec!["bench", "sim"], vec!["--quick", "--cycles"], 0),
        (vec!["bench", "channels"], vec!["--quick"], 0),
        // Less often: no command, or not a whole one.
        (vec![], vec![], 0),
        (vec!["bench"], vec![], 0),
        (vec!["gne"], vec![], 0),
    ]
}

/// Paths to the fixtures and near them, relative to the working directory (the fixtures'
/// directory, for the test and the binary alike).
const PATHS: &[&str] = &[
    "ok.toml",
    "model.toml",
    "core.toml",
    "p.toml",
    "file",
    "dir",
    "missing.toml",
    "nodir/x",
    "file/x",
    "dir/new",
    "new",
    "t.vcd",
    "dir/t.vcd",
    "/sys/x",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "4",
    "12",
    "16",
    "64",
    "250",
    "256",
    "4096",
    "8192",
    "131072",
    "134217728",
    "-1",
    "-4096",
    "18446744073709551616",
    "1.5",
    "0x10",
];
const BACKENDS: &[&str] = &["rtl", "model", "fpga"];
const BOARDS: &[&str] = &["xem6010", "cu", "de10"];
/// Anything, anywhere.
const STRAY: &[&str] = &[
    "",
    " ",
    "4 KiB",
    "é",
    "\u{1b}[2J",
    "-x",
    "--",
    "--out=",
    "extra",
];

/// A command line from random picks: the flags the command needs (when `required`), then
/// mostly its own flags with values of their kind, sometimes any flag, any value or a stray
/// word; a flag is seldom given twice.
fn build(command: usize, required: &[u8], picks: &[(u8, u8, u8)]) -> Vec<String> {
    let (words, own, needs) = &commands()[command];
    let kind = |flag: &str| {
        FLAGS
            .iter()
            .find(|f| f.0 == flag)
            .map_or(Takes::Nothing, |f| f.1)
    };
    let value = |takes: Takes, pick: u8, any: bool| {
        let pool = match takes {
            _ if any => STRAY,
            Takes::Path => PATHS,
            Takes::Number => NUMBERS,
            Takes::Backend => BACKENDS,
            Takes::Board => BOARDS,
            Takes::Nothing => STRAY,
        };
        pool[pick as usize % pool.len()]
    };
    let mut args: Vec<&str> = std::iter::once("vassa")
        .chain(words.iter().copied())
        .collect();
    for (flag, &pick) in own[..*needs].iter().zip(required) {
        args.extend([flag, value(kind(flag), pick, false)]);
    }
    for &(a, b, c) in picks {
        let flag = match own.is_empty() || a % 10 == 0 {
            true => FLAGS[a as usize % FLAGS.len()].0,
            false => own[a as usize % own.len()],
        };
        if args.contains(&flag) && c % 8 != 0 {
            continue;
        }
        args.push(flag);
        if kind(flag) != Takes::Nothing {
            args.push(value(kind(flag), b, c % 8 == 1));
        }
        if c % 16 == 2 {
            args.push(value(Takes::Nothing, b, true));
        }
    }
    args.into_iter().map(String::from).collect()
}

fn command_line() -> impl Strategy<Value = Vec<String>> {
    let commands = commands().len();
    (
        prop_oneof![9 => 0..commands - 3, 1 => commands - 3..commands],
        // The needed flags' values, or none of them.
        prop_oneof![
            1 => Just(Vec::new()),
            4 => prop::collection::vec(any::<u8>(), 2),
        ],
        prop::collection::vec(any::<(u8, u8, u8)>(), 0..6),
    )
        .prop_map(|(command, required, picks)| build(command, &required, &picks))
}

/// The in-process verdict on `args`: `Ok(None)` when it would run, `Ok(Some(failure))` when
/// it fails, `Err` when it panics.
fn prepare(args: &[String]) -> Result<Option<vassa::Failure>, String> {
    std::panic::catch_unwind(|| match vassa::parse(args) {
        Ok(vassa::Parsed::Run(cli)) => vassa::prepare(&cli).err(),
        Ok(vassa::Parsed::Info(_)) => None,
        Err(failure) => Some(failure),
    })
    .map_err(|panic| {
        let text = panic.downcast_ref::<String>().cloned();
        let text = text.or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
        text.unwrap_or_default()
    })
}

fn check(dir: &std::path::Path, args: &[String]) -> Result<(), TestCaseError> {
    let failure = prepare(args)
        .map_err(|panic| TestCaseError::fail(format!("{args:?} panicked: {panic}")))?;
    let Some(failure) = failure else {
        return Ok(());
    };
    let line = failure.to_string();
    prop_assert!(
        matches!(failure.status, 1 | 2),
        "{args:?}: status {}",
        failure.status
    );
    prop_assert!(
        !line.is_empty() && !line.contains('\n'),
        "{args:?}: {line:?}"
    );
    let run = vassa(dir, &args[1..], LIMIT);
    prop_assert_eq!(run.status, failure.status, "{:?}: {}", args, run.stderr);
    prop_assert_eq!(run.stderr, format!("vassa: error: {line}\n"), "{:?}", args);
    prop_assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    Ok(())
}

#[test]
fn random_command_lines_fail_in_one_line_and_never_panic() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fixtures(dir.path());
    // Relative paths mean the same to the test and to the binary (this file's only test).
    std::env::set_current_dir(dir.path()).expect("enter the fixtures");
    let config = Config {
        cases: 160,
        failure_persistence: None,
        ..Config::default()
    };
    let result = TestRunner::new(config).run(&command_line(), |args| check(dir.path(), &args));
    if let Err(e) = result {
        panic!("{e}");
    }
}
