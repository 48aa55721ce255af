//! Verilated cards: register access, loopback delivery, and two cards joined by their links.

use vassa_sim::{Card, LinkWord};
use vassa_spec::packet::packet_words;
use vassa_spec::regmap as rm;

/// The MAP_ATTR of every mapping here (mapping epoch 3).
fn attr(writable: bool, signal: bool, counter_slot: u32) -> u32 {
    rm::map_attr(writable, signal, counter_slot, 3)
}

/// A card with its own memory.
struct Node {
    card: Card,
    mem: Vec<u8>,
}

impl Node {
    fn new() -> Self {
        Node {
            card: Card::new(),
            mem: vec![0; 1 << 20],
        }
    }

    /// Installs `key` -> `page` with `attr` (see [`attr`]) into `slot` of the TX or RX cache.
    fn map(&mut self, tx: bool, slot: u32, key: u32, page: u32, attr: u32) {
        for (addr, value) in rm::install_writes(tx, slot, key, page, attr) {
            self.card.queue_write(addr, value);
        }
    }

    fn send(&mut self, addr: u32, length: u32) {
        self.card.queue_write(rm::DB_ADDR.offset, addr);
        self.card.queue_write(rm::DB_PUSH.offset, length);
    }
}

/// Steps two nodes whose links are joined (what one sends arrives at the other one cycle
/// later) for `cycles` cycles; returns the words each sent.
fn run_pair(a: &mut Node, b: &mut Node, cycles: usize) -> (Vec<LinkWord>, Vec<LinkWord>) {
    let (mut to_b, mut to_a) = (LinkWord::default(), LinkWord::default());
    let (mut sent_a, mut sent_b) = (vec![], vec![]);
    for _ in 0..cycles {
        let out_a = a.card.step(&mut a.mem, to_a);
        let out_b = b.card.step(&mut b.mem, to_b);
        to_b = out_a;
        to_a = out_b;
        sent_a.extend(out_a.valid.then_some(out_a));
        sent_b.extend(out_b.valid.then_some(out_b));
    }
    (sent_a, sent_b)
}

/// Reads a register, stepping the node with an idle link.
fn read(node: &mut Node, addr: u32) -> u32 {
    node.card.queue_read(addr);
    for _ in 0..100 {
        node.card.step(&mut node.mem, LinkWord::default());
        if let Some(v) = node.card.take_read() {
            return v;
        }
    }
    panic!("read of {addr:#x} not answered");
}

#[test]
fn registers_answer_from_the_verilated_core() {
    let mut n = Node::new();
    assert_eq!(read(&mut n, rm::ID.offset), rm::MAGIC);
    assert_eq!(read(&mut n, rm::VERSION_REG.offset), rm::VERSION);
    n.card.queue_write(rm::NODE_ID.offset, 0x2A);
    assert_eq!(read(&mut n, rm::NODE_ID.offset), 0x2A);
    assert!(n.card.bus_idle());
}

#[test]
fn one_card_sends_to_another_over_the_link() {
    let (mut a, mut b) = (Node::new(), Node::new());
    a.card.queue_write(rm::NODE_ID.offset, 1);
    b.card.queue_write(rm::NODE_ID.offset, 2);
    // A: physical page 0x20 -> NVA page 0x500. B: NVA page 0x500 -> physical page 0x60.
    a.map(true, 0, 0x20, 0x500, attr(false, false, 4));
    b.map(false, 5, 0x500, 0x60, attr(true, true, 6));
    b.card
        .queue_write(rm::IRQ_MASK.offset, rm::IRQ_SIGNAL.mask());
    let message: Vec<u8> = (0..1000u32).map(|i| (i * 13 + 1) as u8).collect();
    let src = 0x20_011;
    a.mem[src..src + message.len()].copy_from_slice(&message);
    a.send(src as u32, message.len() as u32);
    let (sent_a, sent_b) = run_pair(&mut a, &mut b, 1500);
    // 1000 bytes from offset 0x11: packets of 256, 256, 256, 232 bytes.
    let words: u32 = [256, 256, 256, 232].iter().map(|&n| packet_words(n)).sum();
    assert_eq!(sent_a.len() as u32, words);
    assert!(sent_b.is_empty(), "B sends nothing");
    let dst = 0x60_011;
    assert_eq!(&b.mem[dst..dst + message.len()], &message[..]);
    assert!(
        b.mem[..dst].iter().all(|&x| x == 0),
        "nothing written before the message"
    );
    assert!(
        b.mem[dst + message.len()..].iter().all(|&x| x == 0),
        "nothing after it"
    );
    assert!(b.card.irq(), "signal-on-write raised B's interrupt");
    assert_eq!(read(&mut b, rm::slot_counter_addr(6, 2)), 4);
    assert_eq!(read(&mut b, rm::slot_counter_addr(6, 3)), 1000);
    assert_eq!(read(&mut a, rm::slot_counter_addr(4, 0)), 4);
    assert_eq!(read(&mut a, rm::slot_counter_addr(4, 1)), 1000);
    assert_eq!(a.card.memory_faults + b.card.memory_faults, 0);
}

#[test]
fn a_corrupted_packet_is_dropped_and_counted() {
    let (mut a, mut b) = (Node::new(), Node::new());
    a.map(true, 0, 0x20, 0x500, attr(false, false, 0));
    b.map(false, 0, 0x500, 0x60, attr(true, false, 0));
    for i in 0..64 {
        a.mem[0x20_000 + i] = 0xA0 ^ i as u8;
    }
    a.send(0x20_000, 64);
    // Flip one payload bit on the wire.
    let mut to_b = LinkWord::default();
    let mut words = 0;
    for _ in 0..300 {
        let out = a.card.step(&mut a.mem, LinkWord::default());
        b.card.step(&mut b.mem, to_b);
        to_b = out;
        if out.valid {
            words += 1;
            if words == 5 {
                to_b.data ^= 1 << 9;
            }
        }
    }
    assert!(
        b.mem[0x60_000..0x60_040].iter().all(|&x| x == 0),
        "nothing written"
    );
    let crc_drops = rm::global_counter_addr(rm::global_counter_index("drop_crc_epoch") as u32);
    assert_eq!(read(&mut b, crc_drops), 1);
}

#[cfg(not(feature = "fst"))]
#[test]
fn a_card_traces_to_the_named_vcd_file() {
    let dir = std::env::temp_dir().join(format!("vassa_sim_trace_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("card.vcd");
    let mut n = Node::new();
    n.card.core().trace_to(&path).unwrap();
    assert!(
        n.card.core().trace_to(&path).is_err(),
        "one trace at a time"
    );
    for _ in 0..10 {
        n.card.step(&mut n.mem, LinkWord::default());
    }
    n.card.core().trace_close();
    let vcd = std::fs::read_to_string(&path).unwrap();
    assert!(vcd.contains("$enddefinitions"), "VCD header");
    assert!(vcd.contains("bus_rdata"), "core signals are traced");
    let steps = vcd.lines().filter(|l| l.starts_with('#')).count();
    assert_eq!(steps, 2 * 10, "two dumps per cycle");
    let bad = n
        .card
        .core()
        .trace_to(std::path::Path::new("/nonexistent/dir/x.vcd"));
    assert!(bad.is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_trace_format_follows_the_file_extension() {
    let dir = std::env::temp_dir().join(format!("vassa_sim_format_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut n = Node::new();
    let (other, feature_needed) = if cfg!(feature = "fst") {
        ("card.vcd", "writes FST only")
    } else {
        ("card.fst", "cargo feature `fst`")
    };
    let err = n.card.core().trace_to(&dir.join(other)).unwrap_err();
    assert!(err.contains(feature_needed), "{err}");
    assert!(
        !dir.join(other).exists(),
        "no file for an unsupported format"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes `cycles` cycles of a card's trace to `path`; returns the file.
#[cfg(feature = "fst")]
fn fst_of(path: &std::path::Path, cycles: usize) -> Vec<u8> {
    let mut n = Node::new();
    n.card.core().trace_to(path).unwrap();
    assert!(n.card.core().trace_to(path).is_err(), "one trace at a time");
    n.map(true, 0, 0x20, 0x500, attr(false, false, 0));
    n.send(0x20_000, 64);
    for _ in 0..cycles {
        n.card.step(&mut n.mem, LinkWord::default());
    }
    n.card.core().trace_close();
    std::fs::read(path).unwrap()
}

#[cfg(feature = "fst")]
#[test]
fn a_card_traces_to_the_named_fst_file() {
    let dir = std::env::temp_dir().join(format!("vassa_sim_fst_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let short = fst_of(&dir.join("short.fst"), 10);
    let long = fst_of(&dir.join("long.fst"), 2000);
    for f in [&short, &long] {
        // An FST file opens with its header block: tag FST_BL_HDR (0), then the block
        // length as a big-endian u64 (329 bytes in gtkwave's fstapi).
        assert_eq!(f[0], 0, "FST header block tag");
        assert_eq!(u64::from_be_bytes(f[1..9].try_into().unwrap()), 329);
    }
    assert!(long.len() > short.len(), "the trace grows with the cycles");
    // gtkwave's fst2vcd, when installed, must read it back with the core's signals.
    if let Ok(out) = std::process::Command::new("fst2vcd")
        .arg(dir.join("short.fst"))
        .output()
    {
        let vcd = String::from_utf8_lossy(&out.stdout);
        assert!(vcd.contains("bus_rdata"), "fst2vcd sees the core's signals");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
