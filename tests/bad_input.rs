//! A corpus of bad input to the `vassa` binary — flags, paths, scenario files, parameter
//! files — each with its exit status (1 bad file, 2 bad flags) and its exact error line.
//! Every case runs in a fresh directory holding `common::fixtures`, must print nothing on
//! stdout, one line on stderr and no panic, and must leave the directory as it found it.

mod common;

use common::{fixtures, listing, vassa, SCENARIO};
use std::time::{Duration, Instant};

/// Longest a case may run: every error here is found before any simulation or synthesis.
const LIMIT: Duration = Duration::from_secs(20);
/// Longest error line.
const MAX_LINE: usize = 1200;

/// One bad input: the files it adds to the fixtures (a name ending in `/` is a directory),
/// its arguments, the exit status, and the error after `vassa: error: ` (a trailing `*` makes
/// the rest of the line free: the system's words for an error, a line cut at its length).
struct Case {
    files: Vec<(String, Vec<u8>)>,
    args: Vec<String>,
    status: i32,
    error: String,
}

fn case(args: &[&str], status: i32, error: &str) -> Case {
    Case {
        files: Vec::new(),
        args: args.iter().map(|a| a.to_string()).collect(),
        status,
        error: error.to_string(),
    }
}

/// `vassa ARGS` with `file` beside the fixtures.
fn with_file(
    file: &str,
    text: impl Into<Vec<u8>>,
    args: &[&str],
    status: i32,
    error: &str,
) -> Case {
    Case {
        files: vec![(file.to_string(), text.into())],
        ..case(args, status, error)
    }
}

const SEE_GEN: &str = "(see vassa gen --help)";

/// Bad flags: exit status 2.
fn flag_cases() -> Vec<Case> {
    let table: &[(&[&str], &str)] = &[
        (&[], "vassa needs a subcommand: demo, sim, gen, synth or bench (see vassa --help)"),
        (&["bench"], "vassa bench needs a subcommand: sim or channels (see vassa bench --help)"),
        (&["gne"], "unrecognized subcommand 'gne' (see vassa --help)"),
        (&["--colour"], "unexpected argument '--colour' found (see vassa --help)"),
        (&["bench", "fast"], "unrecognized subcommand 'fast' (see vassa bench --help)"),
        (&["demo", "--backend", "fpga"], "--backend fpga: expected rtl or model (see vassa demo --help)"),
        (&["demo", "--backend", "RTL"], "--backend RTL: expected rtl or model (see vassa demo --help)"),
        (&["demo", "--backend"], "--backend needs a value: rtl or model (see vassa demo --help)"),
        (&["demo", "--backend", ""], "--backend needs a value: rtl or model (see vassa demo --help)"),
        (&["demo", "--backend", "a\u{1b}[31mb"], "--backend \"a\\u{1b}[31mb\": expected rtl or model (see vassa demo --help)"),
        (&["demo", "--trace", "t.vcd"], "unexpected argument '--trace' found (see vassa demo --help)"),
        (&["demo", "extra"], "unexpected argument 'extra' found (see vassa demo --help)"),
        (&["demo", "--json", "--json"], "the argument '--json' cannot be used multiple times (see vassa demo --help)"),
        (&["sim"], "the following required arguments were not provided: --scenario <FILE.toml> (see vassa sim --help)"),
        (&["sim", "--scenario"], "--scenario needs a value (see vassa sim --help)"),
        (&["sim", "--scenario", ""], "--scenario needs a value (see vassa sim --help)"),
        (&["sim", "--scenario", "ok.toml", "--backend", "verilog"], "--backend verilog: expected rtl or model (see vassa sim --help)"),
        (&["sim", "--scenario", "ok.toml", "--colour"], "unexpected argument '--colour' found (see vassa sim --help)"),
        (&["sim", "--scenario", "ok.toml", "--dump-memory"], "--dump-memory needs a value (see vassa sim --help)"),
        (&["sim", "--scenario", "ok.toml", "--trace", "a.vcd", "--trace", "b.vcd"], "the argument '--trace <FILE>' cannot be used multiple times (see vassa sim --help)"),
        (&["sim", "--scenario", "ok.toml", "--backend", "model", "--trace", "t.vcd"], "--trace needs the rtl backend (the model has no signals to trace), not --backend model"),
        // The flag does not fit the file.
        (&["sim", "--scenario", "model.toml", "--trace", "t.vcd"], "model.toml: --trace needs the rtl backend (the model has no signals to trace)"),
        // Flags are checked before the files they name are read.
        (&["sim", "--scenario", "missing.toml", "--backend", "model", "--trace", "t.vcd"], "--trace needs the rtl backend (the model has no signals to trace), not --backend model"),
        (&["gen"], "gen has nothing to do: give --out DIR, --docs DIR and/or --constraints DIR (see vassa gen --help)"),
        (&["gen", "--params", "missing.toml"], "gen has nothing to do: give --out DIR, --docs DIR and/or --constraints DIR (see vassa gen --help)"),
        (&["gen", "--lint"], "the following required arguments were not provided: --out <DIR> (see vassa gen --help)"),
        (&["gen", "--docs", "d", "--place"], "the following required arguments were not provided: --out <DIR> (see vassa gen --help)"),
        (&["gen", "--out"], "--out needs a value (see vassa gen --help)"),
        (&["gen", "--out", "o", "--tx-cache-entries"], "--tx-cache-entries needs a value (see vassa gen --help)"),
        (&["gen", "--out", "o", "--tx-cache-entries", "-4"], "--tx-cache-entries -4: must not be negative (see vassa gen --help)"),
        (&["gen", "--out", "o", "--tx-cache-entries=-4"], "--tx-cache-entries -4: must not be negative (see vassa gen --help)"),
        (&["gen", "--out", "o", "--tx-cache-entries", "12"], "--tx-cache-entries 12: must be a power of two"),
        (&["gen", "--out", "o", "--tx-cache-entries", "128"], "--tx-cache-entries 128: out of range 2..=64"),
        (&["gen", "--out", "o", "--rx-cache-entries", "0"], "--rx-cache-entries 0: out of range 2..=64"),
        (&["gen", "--out", "o", "--rx-cache-entries", "sixteen"], "--rx-cache-entries sixteen: not a whole number (see vassa gen --help)"),
        (&["gen", "--out", "o", "--line-bytes", "6"], "--line-bytes 6: must be a power of two"),
        (&["gen", "--out", "o", "--line-bytes", "256"], "--line-bytes 256: out of range 4..=128"),
        (&["gen", "--out", "o", "--max-payload", "250"], "--max-payload 250: must be a multiple of the 4-byte datapath"),
        (&["gen", "--out", "o", "--max-payload", "8192"], "--max-payload 8192: out of range 4..=4096"),
        (&["gen", "--out", "o", "--max-payload", "-1.5"], "--max-payload -1.5: not a whole number (see vassa gen --help)"),
        (&["gen", "--out", "o", "--miss-buffer-packets", "0"], "--miss-buffer-packets 0: out of range 1..=8"),
        (&["gen", "--out", "o", "--miss-buffer-packets", "9"], "--miss-buffer-packets 9: out of range 1..=8"),
        (&["gen", "--out", "o", "--counter-slots", "3"], "--counter-slots 3: must be a power of two"),
        (&["gen", "--out", "o", "--counter-slots", "4294967296"], "--counter-slots 4294967296: more than 4294967295 (see vassa gen --help)"),
        (&["gen", "--out", "o", "--counter-slots", "0x20"], "--counter-slots 0x20: not a whole number (see vassa gen --help)"),
        (&["gen", "--out", "o", "--counter-slots", " 8"], "--counter-slots \" 8\": not a whole number (see vassa gen --help)"),
        (&["gen", "--out", "o", "--counter-slots", ""], "--counter-slots \"\": not a whole number (see vassa gen --help)"),
        (&["gen", "--out", "o", "--max-payload", "4096", "--miss-buffer-packets", "8"], "--max-payload 4096 with --miss-buffer-packets 8 needs 24576 words of receive RAM, more than 16384: lower one of them"),
        // p.toml sets max_payload = 4096: valid alone, not with this flag.
        (&["gen", "--out", "o", "--params", "p.toml", "--miss-buffer-packets", "8"], "max_payload = 4096 with --miss-buffer-packets 8 needs 24576 words of receive RAM, more than 16384: lower one of them"),
        (&["gen", "--out", "o", "--rx-cache-entries", "12", "--params", "missing.toml"], "--rx-cache-entries 12: must be a power of two"),
        (&["synth"], "the following required arguments were not provided: --board <BOARD> --out <DIR> (see vassa synth --help)"),
        (&["synth", "--board", "xem6010"], "the following required arguments were not provided: --out <DIR> (see vassa synth --help)"),
        (&["synth", "--board", "de10", "--out", "o"], "--board de10: expected xem6010 or cu (see vassa synth --help)"),
        (&["synth", "--board", "xem6010", "--out", "o", "--mem-bytes", "134217728"], "--mem-bytes 134217728: more than the XEM6010 holds: at most 131072 (128 KiB); card memory is block RAM (2 KiB a RAMB16), and 262144 would need 128 RAMB16 besides the core's 16, more than the xc6slx45's 116"),
        (&["synth", "--board", "xem6010", "--out", "o", "--mem-bytes", "262144"], "--mem-bytes 262144: more than the XEM6010 holds: at most 131072 (128 KiB); card memory is block RAM (2 KiB a RAMB16), and 262144 would need 128 RAMB16 besides the core's 16, more than the xc6slx45's 116"),
        (&["synth", "--board", "xem6010", "--out", "o", "--mem-bytes", "-4096"], "--mem-bytes -4096: must not be negative (see vassa synth --help)"),
        (&["synth", "--board", "xem6010", "--out", "o", "--mem-bytes", "4000"], "--mem-bytes 4000: must be a power of two from 4096 to 131072 (4 KiB to 128 KiB)"),
        (&["synth", "--board", "xem6010", "--out", "o", "--mem-bytes", "0"], "--mem-bytes 0: must be a power of two from 4096 to 131072 (4 KiB to 128 KiB)"),
        (&["synth", "--board", "xem6010", "--out", "o", "--mem-bytes", "2048"], "--mem-bytes 2048: must be a power of two from 4096 to 131072 (4 KiB to 128 KiB)"),
        (&["synth", "--board", "xem6010", "--out", "o", "--mem-bytes", "64 KiB"], "--mem-bytes \"64 KiB\": not a whole number (see vassa synth --help)"),
        (&["synth", "--board", "xem6010", "--out", "o", "--mem-bytes", "18446744073709551616"], "--mem-bytes 18446744073709551616: more than 18446744073709551615 (see vassa synth --help)"),
        (&["synth", "--board", "cu", "--out", "o", "--mem-bytes", "8192"], "--mem-bytes 8192: the Cu's card memory is fixed at 4096 (4 KiB: 8 of the iCE40-HX8K's 32 block RAMs, the default core takes the other 24)"),
        (&["synth", "--board", "cu", "--out", "o", "--mem-bytes", "8192", "--params", "missing.toml"], "--mem-bytes 8192: the Cu's card memory is fixed at 4096 (4 KiB: 8 of the iCE40-HX8K's 32 block RAMs, the default core takes the other 24)"),
        (&["synth", "--board", "cu", "--out", "o", "--rx-cache-entries", "12"], "--rx-cache-entries 12: must be a power of two"),
        (&["bench", "sim", "--cycles", "0"], "--cycles 0: must be at least 1 (see vassa bench sim --help)"),
        (&["bench", "sim", "--cycles", "-5"], "--cycles -5: must not be negative (see vassa bench sim --help)"),
        (&["bench", "sim", "--cycles", "lots"], "--cycles lots: not a whole number (see vassa bench sim --help)"),
        (&["bench", "channels", "--cycles", "5"], "unexpected argument '--cycles' found (see vassa bench channels --help)"),
    ];
    let mut cases: Vec<Case> = table
        .iter()
        .map(|(args, error)| case(args, 2, error))
        .collect();
    // A long value is cut in the error.
    let long = "9".repeat(300);
    cases.push(case(
        &["gen", "--out", "o", "--counter-slots", &long],
        2,
        &format!(
            "--counter-slots {}… (300 characters): more than 4294967295 {SEE_GEN}",
            &long[..60]
        ),
    ));
    cases
}

/// Bad paths: exit status 1, the flag and the path named once, nothing created.
fn path_cases() -> Vec<Case> {
    let table: &[(&[&str], &str)] = &[
        (&["sim", "--scenario", "missing.toml"], "--scenario missing.toml: does not exist"),
        (&["sim", "--scenario", "nodir/s.toml"], "--scenario nodir/s.toml: directory nodir does not exist"),
        (&["sim", "--scenario", "file/s.toml"], "--scenario file/s.toml: file is not a directory"),
        (&["sim", "--scenario", "dir"], "--scenario dir: is a directory, not a file"),
        (&["sim", "--scenario", "missing.toml", "--trace", "nodir/t.vcd"], "--scenario missing.toml: does not exist"),
        (&["sim", "--scenario", "ok.toml", "--trace", "nodir/t.vcd"], "--trace nodir/t.vcd: directory nodir does not exist"),
        (&["sim", "--scenario", "ok.toml", "--trace", "file/t.vcd"], "--trace file/t.vcd: file is not a directory"),
        (&["sim", "--scenario", "ok.toml", "--trace", "dir"], "--trace dir: is a directory; give a file name (each card's trace is FILE with its node name before the extension)"),
        (&["sim", "--scenario", "ok.toml", "--dump-memory", "file"], "--dump-memory file: is a file, not a directory"),
        (&["sim", "--scenario", "ok.toml", "--dump-memory", "nodir/mem"], "--dump-memory nodir/mem: directory nodir does not exist (mem itself is created, not its parents)"),
        (&["sim", "--scenario", "ok.toml", "--dump-memory", "file/mem"], "--dump-memory file/mem: file is not a directory"),
        (&["gen", "--out", "file"], "--out file: is a file, not a directory"),
        (&["gen", "--out", "nodir/o"], "--out nodir/o: directory nodir does not exist (o itself is created, not its parents)"),
        (&["gen", "--out", "a/b/c"], "--out a/b/c: directory a/b does not exist (c itself is created, not its parents)"),
        (&["gen", "--out", "file/o"], "--out file/o: file is not a directory"),
        (&["gen", "--out", "file/x/o"], "--out file/x/o: file is not a directory"),
        (&["gen", "--docs", "file"], "--docs file: is a file, not a directory"),
        (&["gen", "--constraints", "nodir/c"], "--constraints nodir/c: directory nodir does not exist (c itself is created, not its parents)"),
        // A bad second directory: the first one is not created either.
        (&["gen", "--out", "o", "--docs", "file"], "--docs file: is a file, not a directory"),
        (&["gen", "--out", "o", "--params", "missing.toml"], "--params missing.toml: does not exist"),
        (&["gen", "--out", "o", "--params", "dir"], "--params dir: is a directory, not a file"),
        (&["gen", "--out", "o", "--params", "nodir/p.toml"], "--params nodir/p.toml: directory nodir does not exist"),
        (&["synth", "--board", "cu", "--out", "file"], "--out file: is a file, not a directory"),
        (&["synth", "--board", "xem6010", "--out", "a/b/c"], "--out a/b/c: directory a/b does not exist (c itself is created, not its parents)"),
        (&["synth", "--board", "xem6010", "--out", "o", "--params", "dir"], "--params dir: is a directory, not a file"),
        // sysfs takes no new files, even from root.
        (&["gen", "--out", "/sys"], "--out /sys: not writable (*"),
        (&["gen", "--docs", "/sys/vassa-docs"], "--docs /sys/vassa-docs: directory /sys is not writable (*"),
    ];
    let mut cases: Vec<Case> = table
        .iter()
        .map(|(args, error)| case(args, 1, error))
        .collect();
    cases.push(Case {
        files: vec![("t.b.vcd/".into(), Vec::new())],
        ..case(
            &["sim", "--scenario", "ok.toml", "--trace", "t.vcd"],
            1,
            "--trace t.vcd: t.b.vcd is a directory",
        )
    });
    cases
}

/// `vassa sim --scenario s.toml` with a bad `s.toml`: exit status 1, `FILE:LINE:COL: FIELD:
/// MESSAGE`.
fn scenario_cases() -> Vec<Case> {
    let base = |extra: &str| format!("{SCENARIO}{extra}");
    let long = "n".repeat(100);
    let table: Vec<(String, String)> = vec![
        (String::new(), "s.toml:1:1: nodes: at least one node is required ([[nodes]] name = \"a\")".into()),
        ("[[nodes]\n".into(), "s.toml:1:8: invalid table header; expected `.`, `]]`".into()),
        ("[[nodes]]\nname = \"a\"\ncolour = \"red\"\n".into(), "s.toml:3:1: nodes[0].colour: unknown field `colour`, expected `name` or `memory`".into()),
        ("[sim]\nmax_cycles = \"lots\"\n".into(), "s.toml:2:14: sim.max_cycles: invalid type: string \"lots\", expected u64".into()),
        ("[sim]\nmax_cycles = 0\n".into(), "s.toml:2:14: sim.max_cycles: max_cycles = 0 is out of range 1..=1000000000000".into()),
        ("[sim]\nbackend = \"verilog\"\n".into(), "s.toml:2:11: sim.backend: unknown variant `verilog`, expected `rtl` or `model`".into()),
        ("[sim.core]\nrx_cache_entries = 12\n".into(), "s.toml:2:20: sim.core.rx_cache_entries: rx_cache_entries = 12 must be a power of two".into()),
        ("[sim.core]\nmax_payload = 4096\nmiss_buffer_packets = 8\n".into(), "s.toml:2:15: sim.core.max_payload: max_payload = 4096 with miss_buffer_packets = 8 needs 24576 words of receive RAM, more than 16384: lower one of them".into()),
        ("[[nodes]]\nname = \"a\"\nmemory = \"1 MB\"\n".into(), "s.toml:3:10: nodes[0].memory: unknown unit \"MB\" in \"1 MB\" (units: B, KiB, MiB, GiB)".into()),
        ("[[nodes]]\nname = \"a\"\nmemory = \"1 GiB\"\n".into(), "s.toml:3:10: nodes[0].memory: memory = 1 GiB is out of range 4 KiB..=128 MiB".into()),
        ("[[nodes]]\nname = \"a\"\nmemory = -4096\n".into(), "s.toml:3:10: nodes[0].memory: size -4096 is negative".into()),
        ("[[nodes]]\nname = \"9a\"\n".into(), "s.toml:2:8: nodes[0].name: node name \"9a\" must be a letter then letters, digits, '_' or '-' (at most 32)".into()),
        (base(&format!("[[traffic]]\nchannel = \"x\"\nwriter = \"{long}\"\nmessages = 1\nsize = 8\n")), format!("s.toml:12:10: traffic[0].writer: node \"{}…\" (100 characters) is not defined (nodes: a, b)", &long[..60])),
        (format!("[[nodes]]\nname = \"a\"\n{long} = 1\n"), format!("s.toml:3:1: nodes[0].{}… (109 characters): unknown field `{}…` (100 characters), expected `name` or `memory`", &long[..51], &long[..60])),
        ("[[nodes]]\nname = \"a\\u001b[2Jb\"\n".into(), "s.toml:2:8: nodes[0].name: node name \"a\\u{1b}[2Jb\" must be a letter then letters, digits, '_' or '-' (at most 32)".into()),
        (base("[[traffic]]\nchannel = \"x\"\nmessages = 0\nsize = 8\n"), "s.toml:12:12: traffic[0].messages: messages = 0 is out of range 1..=10000000".into()),
        (base("[[traffic]]\nchannel = \"y\"\nmessages = 1\nsize = 8\n"), "s.toml:11:11: traffic[0].channel: channel \"y\" is not defined (channels: x)".into()),
        (base("[[traffic]]\nchannel = \"x\"\nmessages = 1\nsize = \"64..8 KiB\"\n"), "s.toml:13:8: traffic[0].size: messages of up to 8 KiB do not fit the 2 KiB slots of channel \"x\" (24 bytes of each slot go to stamps and CRC)".into()),
        (base("[[faults.drop]]\nprobability = 1.5\n"), "s.toml:11:15: faults.drop[0].probability: probability = 1.5 is outside 0..=1".into()),
        (base("[[faults.inject]]\nnode = \"b\"\nat = 5\n"), "s.toml:10:1: faults.inject[0]: give words = [\"0x...\", ...] or kind = \"corrupt\" | \"stale_epoch\" | \"out_of_bounds\" | \"unmapped\" | \"malformed\"".into()),
        (base("[[faults.evict]]\nnode = \"b\"\n"), "s.toml:10:1: faults.evict[0]: give at = CYCLE or every = CYCLES".into()),
        ("[sim]\nmax_cycles = 99999999999999999999\n".into(), "s.toml:2:14: number too large to fit in target type".into()),
        ("[sim]\nseed = 1\nseed = 2\n".into(), "s.toml:3:1: duplicate key `seed` in table `sim`".into()),
    ];
    let mut cases: Vec<Case> = table
        .into_iter()
        .map(|(text, error)| with_file("s.toml", text, &["sim", "--scenario", "s.toml"], 1, &error))
        .collect();
    cases.push(with_file(
        "s.toml",
        b"[[nodes]]\nname = \"caf\xe9\"\n".to_vec(),
        &["sim", "--scenario", "s.toml"],
        1,
        "s.toml:2:12: not valid UTF-8",
    ));
    // A 20 MB name is not echoed whole.
    let huge = "a".repeat(20_000_000);
    cases.push(with_file(
        "s.toml",
        format!("[[nodes]]\nname = \"{huge}\"\n"),
        &["sim", "--scenario", "s.toml"],
        1,
        &format!(
            "s.toml:2:8: nodes[0].name: node name \"{}…\" (20000000 characters) must be a letter then letters, digits, '_' or '-' (at most 32)",
            &huge[..60]
        ),
    ));
    // Words with spaces between quotes that do not pair up: the line is cut as a whole.
    cases.push(with_file(
        "s.toml",
        format!("[[nodes]]\nname = \"a\\\" {}\"\n", "b ".repeat(1000)),
        &["sim", "--scenario", "s.toml"],
        1,
        "s.toml:2:8: nodes[0].name: node name \"a\" b b b*",
    ));
    cases
}

/// `vassa gen --out o --params q.toml` with a bad `q.toml`: exit status 1,
/// `FILE:LINE:COL: KEY: MESSAGE`.
fn param_file_cases() -> Vec<Case> {
    let long = "k".repeat(100);
    let table: Vec<(Vec<u8>, String)> = vec![
        (b"tx_cache_entries = 8\ncache_size = 3\n".to_vec(), "q.toml:2:1: cache_size: unknown field `cache_size`, expected one of `tx_cache_entries`, `rx_cache_entries`, `line_bytes`, `max_payload`, `miss_buffer_packets`, `counter_slots`".into()),
        (b"rx_cache_entries = 12\n".to_vec(), "q.toml:1:20: rx_cache_entries: rx_cache_entries = 12 must be a power of two".into()),
        (b"line_bytes = 256\n".to_vec(), "q.toml:1:14: line_bytes: line_bytes = 256 is out of range 4..=128".into()),
        (b"max_payload = 250\n".to_vec(), "q.toml:1:15: max_payload: max_payload = 250 must be a multiple of the 4-byte datapath".into()),
        (b"# sizes\nmax_payload = 4096\nmiss_buffer_packets = 8\n".to_vec(), "q.toml:2:15: max_payload: max_payload = 4096 with miss_buffer_packets = 8 needs 24576 words of receive RAM, more than 16384: lower one of them".into()),
        (b"miss_buffer_packets = 8\nmax_payload = 4096\n".to_vec(), "q.toml:2:15: max_payload: max_payload = 4096 with miss_buffer_packets = 8 needs 24576 words of receive RAM, more than 16384: lower one of them".into()),
        (b"rx_cache_entries = \"x\"\n".to_vec(), "q.toml:1:20: rx_cache_entries: invalid type: string \"x\", expected u32".into()),
        (b"tx_cache_entries = -4\n".to_vec(), "q.toml:1:20: tx_cache_entries: invalid value: integer `-4`, expected u32".into()),
        (b"tx_cache_entries = 1.5\n".to_vec(), "q.toml:1:20: tx_cache_entries: invalid type: floating point `1.5`, expected u32".into()),
        (b"tx_cache_entries = 4294967296\n".to_vec(), "q.toml:1:20: tx_cache_entries: invalid value: integer `4294967296`, expected u32".into()),
        (b"counter_slots = [32]\n".to_vec(), "q.toml:1:17: counter_slots: invalid type: sequence, expected u32".into()),
        (b"[core]\ntx_cache_entries = 8\n".to_vec(), "q.toml:1:2: core: unknown field `core`, expected one of `tx_cache_entries`, `rx_cache_entries`, `line_bytes`, `max_payload`, `miss_buffer_packets`, `counter_slots`".into()),
        (b"[a\n".to_vec(), "q.toml:1:3: invalid table header; expected `.`, `]`".into()),
        (b"= 3\n".to_vec(), "q.toml:1:1: invalid key".into()),
        (b"tx_cache_entries = 8\ntx_cache_entries = 16\n".to_vec(), "q.toml:2:1: duplicate key `tx_cache_entries` in document root".into()),
        (b"max_payload = 4\xff\n".to_vec(), "q.toml:1:16: not valid UTF-8".into()),
        (b"\"co\\u001blour\" = 1\n".to_vec(), "q.toml:1:1: co\\u{1b}lour: unknown field `co\\u{1b}lour`, expected one of `tx_cache_entries`, `rx_cache_entries`, `line_bytes`, `max_payload`, `miss_buffer_packets`, `counter_slots`".into()),
        (format!("{long} = 1\n").into_bytes(), format!("q.toml:1:1: {}… (100 characters): unknown field `{}…` (100 characters), expected one of `tx_cache_entries`, `rx_cache_entries`, `line_bytes`, `max_payload`, `miss_buffer_packets`, `counter_slots`", &long[..60], &long[..60])),
    ];
    table
        .into_iter()
        .map(|(text, error)| {
            with_file(
                "q.toml",
                text,
                &["gen", "--out", "o", "--params", "q.toml"],
                1,
                &error,
            )
        })
        .collect()
}

/// What is wrong with `case`'s run, if anything.
fn check(case: &Case) -> Option<String> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fixtures(dir.path());
    for (name, bytes) in &case.files {
        match name.strip_suffix('/') {
            Some(d) => std::fs::create_dir(dir.path().join(d)).expect("a case's directory"),
            None => std::fs::write(dir.path().join(name), bytes).expect("a case's file"),
        }
    }
    let before = listing(dir.path());
    let run = vassa(dir.path(), &case.args, LIMIT);
    let line = run
        .stderr
        .strip_prefix("vassa: error: ")
        .unwrap_or(&run.stderr);
    let line = line.strip_suffix('\n').unwrap_or(line);
    let matches = match case.error.strip_suffix('*') {
        Some(start) => line.starts_with(start),
        None => line == case.error,
    };
    let mut wrong = Vec::new();
    if run.status != case.status {
        wrong.push(format!("status {} (expected {})", run.status, case.status));
    }
    if !matches || !run.stderr.starts_with("vassa: error: ") || line.contains('\n') {
        wrong.push(format!(
            "stderr\n    {}\n  expected\n    vassa: error: {}",
            clip(&run.stderr),
            case.error
        ));
    }
    // Names and values are cut (a 20 MB name is one of the cases).
    if line.chars().count() > MAX_LINE {
        wrong.push(format!("a line of {} characters", line.chars().count()));
    }
    if !run.stdout.is_empty() {
        wrong.push(format!("stdout {}", clip(&run.stdout)));
    }
    if run.stderr.contains("panicked") {
        wrong.push("a panic".into());
    }
    if listing(dir.path()) != before {
        wrong.push(format!("left {:?}", listing(dir.path())));
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "vassa {:?}: {}",
            case.args.iter().map(|a| clip(a)).collect::<Vec<_>>(),
            wrong.join("; ")
        )
    })
}

fn clip(text: &str) -> String {
    text.chars().take(600).collect()
}

#[test]
fn every_bad_input_gets_its_status_and_its_one_line_error() {
    let started = Instant::now();
    let cases: Vec<Case> = [
        flag_cases(),
        path_cases(),
        scenario_cases(),
        param_file_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!(
        "{} cases in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
}
