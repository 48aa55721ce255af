//! Scenario files: every example parses and validates; each kind of mistake gives its exact
//! one-line error; no input makes the reader panic.

use proptest::prelude::*;
use std::path::PathBuf;
use vassa_harness::scenario::{ErrorKind, Kind, Scenario};

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_parses_and_validates() {
    let files = example_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in ["quickstart.toml", "many_to_many.toml", "faults.toml"] {
        assert!(names.iter().any(|n| n == required), "{required} missing");
    }
    for file in &files {
        if let Err(e) = Scenario::from_file(file) {
            panic!("{e}");
        }
    }
}

#[test]
fn the_documented_example_validates() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = doc
        .split("## Scenario files")
        .nth(1)
        .expect("a Scenario files section in README.md");
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block in README's Scenario files section");
    if let Err(e) = Scenario::from_str(block, "README example") {
        panic!("{e}");
    }
}

#[test]
fn quickstart_reads_as_documented() {
    let s = Scenario::from_file(examples_dir().join("quickstart.toml")).unwrap();
    assert_eq!(s.nodes.len(), 3);
    assert_eq!(s.nodes[1].memory.0, 1 << 20, "default memory");
    let telemetry = s.channel("telemetry").unwrap();
    assert_eq!(telemetry.kind, Kind::Multicast);
    assert_eq!((telemetry.slots(), telemetry.pages()), (8, 2));
    assert!(telemetry.signal);
    let reply = s.channel("reply").unwrap();
    assert_eq!(
        reply.slot_bytes(),
        2048,
        "default slot: half the one-page segment"
    );
    assert!(!reply.signal);
    assert_eq!(
        s.traffic[0].writer_name(),
        "a",
        "the only writer, filled in"
    );
    assert_eq!((s.traffic[0].size.min, s.traffic[0].size.max), (64, 1000));
    assert_eq!(s.node_id("c"), Some(2));
}

/// Two nodes and a unicast channel x from a to b, to build mistakes on.
const BASE: &str = "[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\n\
[[channels]]\nname = \"x\"\nkind = \"unicast\"\nwriters = [\"a\"]\nreaders = [\"b\"]\n";

fn with_base(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn each_mistake_gives_its_one_line_error() {
    let cases: Vec<(&str, String, ErrorKind, &str)> = vec![
        (
            "TOML syntax",
            "[[nodes]]\nname = \"a\"\n[[nodes]\n".into(),
            ErrorKind::Syntax,
            "bad.toml:3:8: invalid table header; expected `.`, `]]`",
        ),
        (
            "unknown field",
            "[[nodes]]\nname = \"a\"\ncolour = \"red\"\n".into(),
            ErrorKind::Schema,
            "bad.toml:3:1: nodes[0].colour: unknown field `colour`, expected `name` or `memory`",
        ),
        (
            "unknown section",
            "[simulation]\nseed = 1\n".into(),
            ErrorKind::Schema,
            "bad.toml:1:2: simulation: unknown field `simulation`, expected one of `sim`, `nodes`, `channels`, `traffic`, `faults`",
        ),
        (
            "wrong type",
            "[sim]\nmax_cycles = \"lots\"\n".into(),
            ErrorKind::Schema,
            "bad.toml:2:14: sim.max_cycles: invalid type: string \"lots\", expected u64",
        ),
        (
            "unknown enum value",
            "[sim]\nbackend = \"verilog\"\n".into(),
            ErrorKind::Schema,
            "bad.toml:2:11: sim.backend: unknown variant `verilog`, expected `rtl` or `model`",
        ),
        (
            "missing field",
            "[[nodes]]\nmemory = \"1 MiB\"\n".into(),
            ErrorKind::Schema,
            "bad.toml:1:1: nodes[0]: missing field `name`",
        ),
        (
            "bad unit",
            "[[nodes]]\nname = \"a\"\nmemory = \"1 MB\"\n".into(),
            ErrorKind::Schema,
            "bad.toml:3:10: nodes[0].memory: unknown unit \"MB\" in \"1 MB\" (units: B, KiB, MiB, GiB)",
        ),
        (
            "array where a table belongs",
            "[[sim]]\nseed = 1\n".into(),
            ErrorKind::Schema,
            "bad.toml:1:1: sim[0]: invalid type: sequence, expected a table (write [section], not [[section]])",
        ),
        (
            "out of range",
            "[sim]\nmax_cycles = 0\n[[nodes]]\nname = \"a\"\n".into(),
            ErrorKind::Invalid,
            "bad.toml:2:14: sim.max_cycles: max_cycles = 0 is out of range 1..=1000000000000",
        ),
        (
            "core parameter",
            "[sim.core]\nrx_cache_entries = 12\n[[nodes]]\nname = \"a\"\n".into(),
            ErrorKind::Invalid,
            "bad.toml:2:20: sim.core.rx_cache_entries: rx_cache_entries = 12 must be a power of two",
        ),
        (
            "no nodes",
            "[sim]\nseed = 3\n".into(),
            ErrorKind::Invalid,
            "bad.toml:1:1: nodes: at least one node is required ([[nodes]] name = \"a\")",
        ),
        (
            "duplicate node",
            "[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"a\"\n".into(),
            ErrorKind::Invalid,
            "bad.toml:4:8: nodes[1].name: node \"a\" is already defined (nodes[0])",
        ),
        (
            "memory not whole pages",
            "[[nodes]]\nname = \"a\"\nmemory = 5000\n".into(),
            ErrorKind::Invalid,
            "bad.toml:3:10: nodes[0].memory: memory = 5000 is not a whole number of 4096-byte pages",
        ),
        (
            "undefined node in a channel",
            "[[nodes]]\nname = \"a\"\n[[channels]]\nname = \"x\"\nkind = \"unicast\"\nwriters = [\"a\"]\nreaders = [\"q\"]\n".into(),
            ErrorKind::Invalid,
            "bad.toml:7:12: channels[0].readers[0]: node \"q\" is not defined (nodes: a)",
        ),
        (
            "unicast with two readers",
            "[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\n[[nodes]]\nname = \"c\"\n\
             [[channels]]\nname = \"x\"\nkind = \"unicast\"\nwriters = [\"a\"]\nreaders = [\"b\", \"c\"]\n".into(),
            ErrorKind::Invalid,
            "bad.toml:11:11: channels[0].readers: a unicast channel has exactly one reader, not 2 (b, c); use kind = \"multicast\"",
        ),
        (
            "writer reads its own unicast",
            "[[nodes]]\nname = \"a\"\n[[channels]]\nname = \"x\"\nkind = \"unicast\"\nwriters = [\"a\"]\nreaders = [\"a\"]\n".into(),
            ErrorKind::Invalid,
            "bad.toml:7:12: channels[0].readers[0]: node \"a\" is the channel's writer; only a many_to_many channel may loop back",
        ),
        (
            "segment not whole pages",
            BASE.replace("readers = [\"b\"]\n", "readers = [\"b\"]\nsegment = 6000\n"),
            ErrorKind::Invalid,
            "bad.toml:10:11: channels[0].segment: segment = 6000 is not a whole number of 4096-byte pages",
        ),
        (
            "slot not a power of two",
            BASE.replace("readers = [\"b\"]\n", "readers = [\"b\"]\nslot = 1000\n"),
            ErrorKind::Invalid,
            "bad.toml:10:8: channels[0].slot: slot = 1000 must be a power of two of at least 64 bytes",
        ),
        (
            "a slot larger than one doorbell carries",
            BASE.replace(
                "readers = [\"b\"]\n",
                "readers = [\"b\"]\nsegment = \"128 KiB\"\nslot = \"64 KiB\"\n",
            ),
            ErrorKind::Invalid,
            "bad.toml:11:8: channels[0].slot: slot = 64 KiB is larger than one doorbell carries (65535 bytes of message record): at most 32 KiB",
        ),
        (
            "a reader that never looks",
            "[sim.host]\nreader_poll = 0\n[[nodes]]\nname = \"a\"\n".into(),
            ErrorKind::Invalid,
            "bad.toml:2:15: sim.host.reader_poll: reader_poll = 0 is out of range 1..=10000000",
        ),
        (
            "an unknown host cost",
            "[sim.host]\npcie_gen = 5\n[[nodes]]\nname = \"a\"\n".into(),
            ErrorKind::Schema,
            "bad.toml:2:1: sim.host.pcie_gen: unknown field `pcie_gen`, expected one of `reg_read`, `reg_write`, `irq_latency`, `miss_service`, `reader_poll`, `counter_poll`",
        ),
        (
            "many_to_many without a slot per writer",
            "[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\n[[channels]]\nname = \"x\"\n\
             kind = \"many_to_many\"\nwriters = [\"a\", \"b\"]\nreaders = [\"a\", \"b\"]\n".into(),
            ErrorKind::Invalid,
            "bad.toml:5:1: channels[0].slot: 2 slot(s) of 2 KiB in a 4 KiB segment cannot give each of the 2 writer(s) two of its own; enlarge segment or shrink slot",
        ),
        (
            "segments larger than a node's memory",
            "[[nodes]]\nname = \"a\"\nmemory = \"8 KiB\"\n[[nodes]]\nname = \"b\"\n\
             [[channels]]\nname = \"x\"\nkind = \"unicast\"\nwriters = [\"a\"]\nreaders = [\"b\"]\nsegment = \"16 KiB\"\n".into(),
            ErrorKind::Invalid,
            "bad.toml:3:10: nodes[0].memory: memory = 8 KiB cannot hold the segments of its channels (x: 16 KiB in all) after page 0, which is never mapped",
        ),
        (
            "undefined writer",
            with_base("[[traffic]]\nchannel = \"x\"\nwriter = \"n9\"\nmessages = 1\nsize = 8\n"),
            ErrorKind::Invalid,
            "bad.toml:12:10: traffic[0].writer: node \"n9\" is not defined (nodes: a, b)",
        ),
        (
            "writer not among the channel's writers",
            with_base("[[traffic]]\nchannel = \"x\"\nwriter = \"b\"\nmessages = 1\nsize = 8\n"),
            ErrorKind::Invalid,
            "bad.toml:12:10: traffic[0].writer: node \"b\" is not a writer of channel \"x\" (writers: a)",
        ),
        (
            "undefined channel",
            with_base("[[traffic]]\nchannel = \"y\"\nmessages = 1\nsize = 8\n"),
            ErrorKind::Invalid,
            "bad.toml:11:11: traffic[0].channel: channel \"y\" is not defined (channels: x)",
        ),
        (
            "message larger than a slot",
            with_base("[[traffic]]\nchannel = \"x\"\nmessages = 1\nsize = \"64..8 KiB\"\n"),
            ErrorKind::Invalid,
            "bad.toml:13:8: traffic[0].size: messages of up to 8 KiB do not fit the 2 KiB slots of channel \"x\" (24 bytes of each slot go to stamps and CRC)",
        ),
        (
            "empty size range",
            with_base("[[traffic]]\nchannel = \"x\"\nmessages = 1\nsize = \"512..64\"\n"),
            ErrorKind::Invalid,
            "bad.toml:13:8: traffic[0].size: size 512 B..64 B must be at least 1 byte, with MIN <= MAX",
        ),
        (
            "traffic after the end of the run",
            with_base("[sim]\nmax_cycles = 100\n[[traffic]]\nchannel = \"x\"\nmessages = 1\nsize = 8\nstart = 100\n"),
            ErrorKind::Invalid,
            "bad.toml:16:9: traffic[0].start: start = 100 is not before the end of the run (sim.max_cycles = 100)",
        ),
        (
            "probability above 1",
            with_base("[[faults.drop]]\nprobability = 1.5\n"),
            ErrorKind::Invalid,
            "bad.toml:11:15: faults.drop[0].probability: probability = 1.5 is outside 0..=1",
        ),
        (
            "fault on a node that does not read the channel",
            with_base("[faults]\nbit_flip = [{ probability = 0.1, channel = \"x\", node = \"a\" }]\n"),
            ErrorKind::Invalid,
            "bad.toml:11:44: faults.bit_flip[0].channel: node \"a\" does not read channel \"x\" (readers: b)",
        ),
        (
            "bits on a drop",
            with_base("[[faults.drop]]\nprobability = 0.1\nbits = 3\n"),
            ErrorKind::Invalid,
            "bad.toml:12:8: faults.drop[0].bits: bits applies to bit_flip, not drop",
        ),
        (
            "bad hex word",
            with_base("[[faults.inject]]\nnode = \"b\"\nat = 5\nwords = [\"0x1\", \"0xFFFF_FFFF_1\"]\n"),
            ErrorKind::Schema,
            "bad.toml:13:17: faults.inject[0].words[1]: word \"0xFFFF_FFFF_1\" must have 1 to 8 hex digits",
        ),
        (
            "named injection without its channel",
            with_base("[[faults.inject]]\nnode = \"b\"\nat = 5\nkind = \"corrupt\"\n"),
            ErrorKind::Invalid,
            "bad.toml:13:8: faults.inject[0].kind: kind \"corrupt\" needs channel = \"...\" (the channel whose packet it imitates)",
        ),
        (
            "injection with words and kind",
            with_base("[[faults.inject]]\nnode = \"b\"\nat = 5\nwords = [1]\nkind = \"malformed\"\n"),
            ErrorKind::Invalid,
            "bad.toml:14:8: faults.inject[0].kind: give either words or kind, not both",
        ),
        (
            "eviction page past the segment",
            with_base("[[faults.evict]]\nnode = \"b\"\nchannel = \"x\"\npage = 1\nat = 10\n"),
            ErrorKind::Invalid,
            "bad.toml:13:8: faults.evict[0].page: page 1 is past the end of channel \"x\" (1 page(s): 0..=0)",
        ),
        (
            "eviction without a time",
            with_base("[[faults.evict]]\nnode = \"b\"\n"),
            ErrorKind::Invalid,
            "bad.toml:10:1: faults.evict[0]: give at = CYCLE or every = CYCLES",
        ),
    ];
    assert!(cases.len() >= 12);
    let mut failures = Vec::new();
    for (what, text, kind, expected) in &cases {
        match Scenario::from_str(text, "bad.toml") {
            Ok(_) => failures.push(format!("{what}: accepted")),
            Err(e) => {
                let line = e.to_string();
                if line != *expected || e.kind != *kind {
                    failures.push(format!(
                        "{what}:\n  got      {line} ({:?})\n  expected {expected} ({kind:?})",
                        e.kind
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn file_errors_name_the_file() {
    let missing = examples_dir().join("no_such_file.toml");
    let e = Scenario::from_file(&missing).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(e
        .to_string()
        .starts_with(&format!("{}: cannot read: ", missing.display())));
    let dir = std::env::temp_dir().join(format!("vassa-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let latin1 = dir.join("latin1.toml");
    std::fs::write(&latin1, b"[[nodes]]\nname = \"caf\xe9\"\n").unwrap();
    let e = Scenario::from_file(&latin1).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:2:12: not valid UTF-8", latin1.display())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn check_one_line(text: &str) -> Result<(), TestCaseError> {
    match Scenario::from_str(text, "fuzz.toml") {
        Ok(_) => Ok(()),
        Err(e) => {
            let line = e.to_string();
            prop_assert!(line.starts_with("fuzz.toml"), "{line}");
            prop_assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
            Ok(())
        }
    }
}

/// Pieces that make mutations likely to stay near-valid TOML.
const PIECES: &[&str] = &[
    "\"",
    "[",
    "]",
    "[[",
    "]]",
    "=",
    ".",
    ",",
    "\n",
    "#",
    "0",
    "-1",
    "1.5",
    "true",
    "\"zz\"",
    "{ }",
    "\"a\"",
    "\"1 KiB\"",
    "\"64..\"",
    "..",
    "0x",
    "é",
    "name",
    "nodes",
    "[faults.drop]",
    "1979-05-27",
    "nan",
    "inf",
    "'''",
    "\"\"\"",
    "\\",
    "18446744073709551616",
];

fn mutate(base: &str, edits: &[(usize, usize, usize)]) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for &(at, remove, piece) in edits {
        if chars.is_empty() {
            break;
        }
        let at = at % chars.len();
        let end = (at + remove % 8).min(chars.len());
        let insert: Vec<char> = PIECES[piece % PIECES.len()].chars().collect();
        chars.splice(at..end, insert);
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn garbage_never_panics(text in "\\PC{0,200}") {
        check_one_line(&text)?;
    }

    #[test]
    fn tomlish_garbage_never_panics(text in "[\\[\\]{}=\"'.,a-z0-9_ \n#-]{0,200}") {
        check_one_line(&text)?;
    }

    #[test]
    fn mutated_examples_never_panic(
        file in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<usize>()), 1..5),
    ) {
        let files = example_files();
        let base = std::fs::read_to_string(&files[file % files.len()]).unwrap();
        check_one_line(&mutate(&base, &edits))?;
    }
}
