//! The XEM6010 board through its FrontPanel endpoints ([`BoardSim`]): register and memory
//! commands, refused commands, clock-domain crossing at several clock ratios, the link
//! loopback and the external link pins, the LEDs.

use proptest::prelude::*;
use vassa_sim::board::BoardSim;
use vassa_sim::LinkWord;
use vassa_spec::board::{fp, BOARD_MAGIC};
use vassa_spec::params::CoreParams;
use vassa_spec::regmap as rm;
use vassa_spec::Field;

/// Polls trigger-out until one of `mask`'s bits pulsed; returns every bit seen.
fn wait_event(b: &mut BoardSim, mask: u16) -> u16 {
    let mut seen = 0;
    for _ in 0..2000 {
        seen |= b.trigger_out(fp::TO_EVENTS.addr);
        if seen & mask != 0 {
            return seen;
        }
        b.run(20);
    }
    panic!("no event {mask:#x} (seen {seen:#x})");
}

fn command(b: &mut BoardSim, cmd: Field) -> u16 {
    b.activate_trigger_in(fp::TI_COMMAND.addr, cmd.lsb);
    wait_event(
        b,
        fp::EV_REG_DONE.mask() as u16 | fp::EV_MEM_DONE.mask() as u16 | fp::EV_ERROR.mask() as u16,
    )
}

/// The command finished with `done` and without an error.
fn ok(ev: u16, done: Field) -> bool {
    ev & done.mask() as u16 != 0 && ev & fp::EV_ERROR.mask() as u16 == 0
}

fn reg_write(b: &mut BoardSim, addr: u32, value: u32) {
    b.set_wire_in(fp::WI_REG_ADDR.addr, addr as u16);
    b.set_wire_in(fp::WI_REG_WDATA_LO.addr, value as u16);
    b.set_wire_in(fp::WI_REG_WDATA_HI.addr, (value >> 16) as u16);
    let ev = command(b, fp::CMD_REG_WRITE);
    assert!(
        ok(ev, fp::EV_REG_DONE),
        "register write {addr:#x}: events {ev:#x}"
    );
}

fn reg_read(b: &mut BoardSim, addr: u32) -> u32 {
    b.set_wire_in(fp::WI_REG_ADDR.addr, addr as u16);
    let ev = command(b, fp::CMD_REG_READ);
    assert!(
        ok(ev, fp::EV_REG_DONE),
        "register read {addr:#x}: events {ev:#x}"
    );
    b.wire_out(fp::WO_REG_RDATA_LO.addr) as u32
        | (b.wire_out(fp::WO_REG_RDATA_HI.addr) as u32) << 16
}

fn set_range(b: &mut BoardSim, addr: u32, words: u32) {
    b.set_wire_in(fp::WI_MEM_ADDR_LO.addr, addr as u16);
    b.set_wire_in(fp::WI_MEM_ADDR_HI.addr, (addr >> 16) as u16);
    b.set_wire_in(fp::WI_MEM_WORDS.addr, words as u16);
}

fn halves(words: &[u32]) -> Vec<u16> {
    words
        .iter()
        .flat_map(|w| [*w as u16, (*w >> 16) as u16])
        .collect()
}

/// Writes `words` at `addr`: the events of the command.
fn mem_write(b: &mut BoardSim, addr: u32, words: &[u32]) -> u16 {
    b.write_pipe_in(fp::PIPE_IN_MEM.addr, &halves(words));
    set_range(b, addr, words.len() as u32);
    command(b, fp::CMD_MEM_WRITE)
}

/// Reads `n` words at `addr`, or the events of a refused command.
fn mem_read(b: &mut BoardSim, addr: u32, n: u32) -> Result<Vec<u32>, u16> {
    set_range(b, addr, n);
    let ev = command(b, fp::CMD_MEM_READ);
    if !ok(ev, fp::EV_MEM_DONE) {
        return Err(ev);
    }
    let h = b.read_pipe_out(fp::PIPE_OUT_MEM.addr, 2 * n as usize);
    Ok(h.chunks(2)
        .map(|p| p[0] as u32 | (p[1] as u32) << 16)
        .collect())
}

fn errors(b: &mut BoardSim) -> u16 {
    b.wire_out(fp::WO_ERRORS.addr)
}

fn status(b: &mut BoardSim) -> u16 {
    b.wire_out(fp::WO_STATUS.addr)
}

#[test]
fn registers_reach_the_core() {
    let mut b = BoardSim::new();
    assert_eq!(b.wire_out(fp::WO_MAGIC.addr), BOARD_MAGIC);
    assert_eq!(
        b.wire_out(fp::WO_MEM_KIB.addr) as usize,
        b.mem_bytes() / 1024
    );
    assert_eq!(reg_read(&mut b, rm::ID.offset), rm::MAGIC);
    assert_eq!(reg_read(&mut b, rm::VERSION_REG.offset), rm::VERSION);
    let p = CoreParams::default();
    let p0 = reg_read(&mut b, rm::PARAM0.offset);
    assert_eq!(rm::PARAM0_TX_CACHE.get(p0), p.tx_cache_entries);
    assert_eq!(rm::PARAM0_RX_CACHE.get(p0), p.rx_cache_entries);
    assert_eq!(rm::PARAM0_SLOTS.get(p0), p.counter_slots);
    let p1 = reg_read(&mut b, rm::PARAM1.offset);
    assert_eq!(rm::PARAM1_MAX_PAYLOAD.get(p1), p.max_payload);
    assert_eq!(rm::PARAM1_LINE.get(p1), p.line_bytes);
    // A writable register, both halves of the data wires.
    reg_write(&mut b, rm::IRQ_MASK.offset, 0x5);
    assert_eq!(reg_read(&mut b, rm::IRQ_MASK.offset), 0x5);
    reg_write(&mut b, rm::DB_ADDR.offset, 0xA5C3_0F14);
    reg_write(&mut b, rm::NODE_ID.offset, 0x3C);
    assert_eq!(reg_read(&mut b, rm::NODE_ID.offset), 0x3C);
    assert_eq!(errors(&mut b), 0);
    assert_eq!(status(&mut b) & fp::STATUS_BUSY.mask() as u16, 0);
}

fn check_round_trips(b: &mut BoardSim, ops: &[(u32, Vec<u32>)]) {
    let mut model = vec![0u32; b.mem_bytes() / 4];
    for (addr, words) in ops {
        let ev = mem_write(b, *addr, words);
        assert!(
            ok(ev, fp::EV_MEM_DONE),
            "write {addr:#x}+{}: {ev:#x}",
            words.len()
        );
        let i = *addr as usize / 4;
        model[i..i + words.len()].copy_from_slice(words);
    }
    for (addr, words) in ops {
        // Read a range around each write: neighbours must be the model's.
        let start = addr.saturating_sub(8);
        let n = (words.len() as u32 + 4).min(fp::PIPE_CHUNK_WORDS);
        let n = n.min((b.mem_bytes() as u32 - start) / 4);
        let got = mem_read(b, start, n).expect("read refused");
        let i = start as usize / 4;
        assert_eq!(got, model[i..i + n as usize], "read {start:#x}+{n}");
    }
    assert_eq!(errors(b), 0);
    let st = status(b);
    assert_eq!(
        st & (fp::STATUS_PIPE_IN_OVERFLOW.mask() | fp::STATUS_PIPE_OUT_UNDERFLOW.mask()) as u16,
        0
    );
    assert_eq!(b.wire_out(fp::WO_PIPE_IN_WORDS.addr), 0);
    assert_eq!(b.wire_out(fp::WO_PIPE_OUT_WORDS.addr), 0);
}

fn op_strategy(mem_words: u32) -> impl Strategy<Value = (u32, Vec<u32>)> {
    (1..=fp::PIPE_CHUNK_WORDS).prop_flat_map(move |n| {
        (
            (0..=mem_words - n).prop_map(|w| w * 4),
            prop::collection::vec(any::<u32>(), n as usize),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn memory_round_trips_through_the_pipes(
        ops in prop::collection::vec(op_strategy((vassa_sim::board::FP_MEM_BYTES / 4) as u32), 1..4)
    ) {
        let mut b = BoardSim::new();
        check_round_trips(&mut b, &ops);
    }
}

#[test]
fn refused_commands_raise_error_count_and_write_nothing() {
    let mut b = BoardSim::new();
    let top = b.mem_bytes() as u32;
    let err = fp::EV_ERROR.mask() as u16;
    let mut expected = 0;
    let mut refused = |b: &mut BoardSim, ev: u16, what: &str| {
        assert!(ev & err != 0, "{what}: not refused ({ev:#x})");
        assert_eq!(ev & fp::EV_MEM_DONE.mask() as u16, 0, "{what}");
        expected += 1;
        assert_eq!(errors(b), expected, "{what}: errors counter");
    };
    // Range leaving memory: nothing written, pipe-in emptied.
    let ev = mem_write(&mut b, top - 4, &[1, 2]);
    refused(&mut b, ev, "write past the end");
    assert_eq!(b.wire_out(fp::WO_PIPE_IN_WORDS.addr), 0, "pipe-in emptied");
    assert_eq!(mem_read(&mut b, top - 8, 2).unwrap(), [0, 0]);
    // Short pipe-in data: 3 halves for 2 words.
    b.write_pipe_in(fp::PIPE_IN_MEM.addr, &[0x1111, 0x2222, 0x3333]);
    set_range(&mut b, 0x100, 2);
    let ev = command(&mut b, fp::CMD_MEM_WRITE);
    refused(&mut b, ev, "short pipe-in");
    assert_eq!(b.wire_out(fp::WO_PIPE_IN_WORDS.addr), 0, "pipe-in emptied");
    assert_eq!(mem_read(&mut b, 0x100, 2).unwrap(), [0, 0]);
    // Zero words, too many words, unaligned address, read past the end.
    for (addr, words) in [(0, 0), (0, fp::PIPE_CHUNK_WORDS + 1), (2, 1), (top, 1)] {
        set_range(&mut b, addr, words);
        let ev = command(&mut b, fp::CMD_MEM_READ);
        refused(&mut b, ev, &format!("read {addr:#x}+{words}"));
    }
    // mem_read while the pipe-out FIFO still holds data.
    assert!(ok(mem_write(&mut b, 0x200, &[7, 8, 9]), fp::EV_MEM_DONE));
    set_range(&mut b, 0x200, 3);
    assert!(ok(command(&mut b, fp::CMD_MEM_READ), fp::EV_MEM_DONE));
    assert_eq!(b.wire_out(fp::WO_PIPE_OUT_WORDS.addr), 6);
    let ev = command(&mut b, fp::CMD_MEM_READ);
    refused(&mut b, ev, "read with a full pipe-out");
    assert_eq!(
        b.wire_out(fp::WO_PIPE_OUT_WORDS.addr),
        6,
        "earlier data kept"
    );
    assert_eq!(
        b.read_pipe_out(fp::PIPE_OUT_MEM.addr, 6),
        [7, 0, 8, 0, 9, 0],
        "earlier data intact"
    );
    // A register address wider than the bus; several command bits at once.
    b.set_wire_in(fp::WI_REG_ADDR.addr, 0x1000);
    let ev = command(&mut b, fp::CMD_REG_READ);
    refused(&mut b, ev, "register address beyond 12 bits");
    b.activate_trigger_in(fp::TI_COMMAND.addr, 7);
    let ev = wait_event(&mut b, err);
    refused(&mut b, ev, "unknown command bit");
    // A command while one is in progress (a read waiting for an empty pipe-out is slow).
    assert!(ok(mem_write(&mut b, 0x300, &[5]), fp::EV_MEM_DONE));
    set_range(&mut b, 0x300, 1);
    assert!(ok(command(&mut b, fp::CMD_MEM_READ), fp::EV_MEM_DONE));
    b.activate_trigger_in(fp::TI_COMMAND.addr, fp::CMD_MEM_READ.lsb);
    b.activate_trigger_in(fp::TI_COMMAND.addr, fp::CMD_REG_READ.lsb);
    assert_ne!(status(&mut b) & fp::STATUS_BUSY.mask() as u16, 0);
    let ev = wait_event(&mut b, err);
    refused(&mut b, ev, "command while busy");
    let ev = wait_event(&mut b, err);
    refused(&mut b, ev, "mem_read with a full pipe-out");
    // Host-side pipe errors: underflow, overflow; flush clears them and the FIFOs.
    let _ = b.read_pipe_out(fp::PIPE_OUT_MEM.addr, 4);
    let st = status(&mut b);
    assert_ne!(
        st & fp::STATUS_PIPE_OUT_UNDERFLOW.mask() as u16,
        0,
        "{st:#x}"
    );
    let too_many = vec![0xABCDu16; 2 * fp::PIPE_CHUNK_WORDS as usize + 3];
    b.write_pipe_in(fp::PIPE_IN_MEM.addr, &too_many);
    let st = status(&mut b);
    assert_ne!(st & fp::STATUS_PIPE_IN_OVERFLOW.mask() as u16, 0, "{st:#x}");
    set_range(&mut b, 0x400, 1);
    let ev = command(&mut b, fp::CMD_MEM_WRITE);
    refused(&mut b, ev, "write after a pipe-in overflow");
    let ev = command(&mut b, fp::CMD_FLUSH);
    assert!(ok(ev, fp::EV_MEM_DONE), "flush: {ev:#x}");
    assert_eq!(status(&mut b), 0);
    assert_eq!(b.wire_out(fp::WO_PIPE_IN_WORDS.addr), 0);
    assert_eq!(b.wire_out(fp::WO_PIPE_OUT_WORDS.addr), 0);
    assert_eq!(mem_read(&mut b, 0x400, 1).unwrap(), [0], "nothing written");
    assert_eq!(mem_read(&mut b, 0x300, 1).unwrap(), [5]);
    assert!(ok(
        mem_write(&mut b, 0x400, &[0x1234_5678]),
        fp::EV_MEM_DONE
    ));
    assert_eq!(mem_read(&mut b, 0x400, 1).unwrap(), [0x1234_5678]);
    assert_eq!(errors(&mut b), expected);
}

/// Register and memory traffic with `ti_clk` faster and slower than the core clock, including
/// co-prime periods (the phases of the two clocks drift through every alignment).
#[test]
fn clock_domain_crossing_at_several_ratios() {
    for (ti, core) in [
        (20_833, 10_000), // 48 / 100 MHz
        (10_000, 20_833), // 100 / 48 MHz
        (30_303, 10_000), // 33 / 100 MHz
        (7_919, 10_007),  // co-prime, ti faster
        (13_001, 9_973),  // co-prime, ti slower
    ] {
        let mut b = BoardSim::with_clocks(ti, core);
        assert_eq!(reg_read(&mut b, rm::ID.offset), rm::MAGIC, "{ti}/{core}");
        reg_write(&mut b, rm::NODE_ID.offset, 0xA7);
        assert_eq!(reg_read(&mut b, rm::NODE_ID.offset), 0xA7, "{ti}/{core}");
        let words: Vec<u32> = (0..fp::PIPE_CHUNK_WORDS)
            .map(|i| i.wrapping_mul(0x9E37_79B9) ^ ti as u32)
            .collect();
        check_round_trips(&mut b, &[(0x1000, words), (0x3FC, vec![0xFFFF_0001; 3])]);
        b.set_wire_in(fp::WI_CONTROL.addr, fp::CONTROL_LOOPBACK.mask() as u16);
        b.run(20);
        assert_ne!(
            status(&mut b) & fp::STATUS_LOOPBACK.mask() as u16,
            0,
            "{ti}/{core}"
        );
    }
}

const SRC_PAGE: u32 = 2;
const NVA_PAGE: u32 = 0x40;
const DST_PAGE: u32 = 5;

/// Maps physical page SRC_PAGE -> NVA_PAGE for TX and NVA_PAGE -> DST_PAGE for RX (the
/// driver's register sequence), enables TX and the signal interrupt.
fn map_and_enable(b: &mut BoardSim) {
    reg_write(b, rm::NODE_ID.offset, 1);
    let tx_attr = rm::map_attr(false, false, 1, 7);
    let rx_attr = rm::map_attr(true, true, 2, 7);
    for (addr, value) in rm::install_writes(true, 0, SRC_PAGE, NVA_PAGE, tx_attr)
        .into_iter()
        .chain(rm::install_writes(false, 0, NVA_PAGE, DST_PAGE, rx_attr))
    {
        reg_write(b, addr, value);
    }
    reg_write(b, rm::IRQ_MASK.offset, rm::IRQ_SIGNAL.mask());
    reg_write(b, rm::CONTROL.offset, rm::CONTROL_TX_ENABLE.mask());
}

fn doorbell(b: &mut BoardSim, offset: u32, len: u32) {
    reg_write(b, rm::DB_ADDR.offset, (SRC_PAGE << 12) + offset);
    reg_write(b, rm::DB_PUSH.offset, len);
}

#[test]
fn loopback_delivers_a_doorbells_packet_into_memory() {
    let mut b = BoardSim::new();
    b.set_wire_in(fp::WI_CONTROL.addr, fp::CONTROL_LOOPBACK.mask() as u16);
    map_and_enable(&mut b);
    let msg: Vec<u32> = (0..40u32).map(|i| i * 0x0102_0304 + 0xBEEF).collect();
    assert!(ok(
        mem_write(&mut b, (SRC_PAGE << 12) + 0x40, &msg),
        fp::EV_MEM_DONE
    ));
    doorbell(&mut b, 0x40, 4 * msg.len() as u32);
    // The signal interrupt rises when the packet is written.
    let ev = wait_event(&mut b, fp::EV_IRQ.mask() as u16);
    assert_ne!(ev & fp::EV_IRQ.mask() as u16, 0);
    assert_ne!(status(&mut b) & fp::STATUS_IRQ.mask() as u16, 0);
    let got = mem_read(&mut b, (DST_PAGE << 12) + 0x40, msg.len() as u32).unwrap();
    assert_eq!(got, msg);
    assert_eq!(mem_read(&mut b, (DST_PAGE << 12) + 0x3C, 1).unwrap(), [0]);
    // The packet also left on the pins.
    let tx = b.link_tx();
    assert_eq!(tx.iter().filter(|w| w.sop).count(), 1);
    assert_eq!(tx.iter().filter(|w| w.eop).count(), 1);
    let pop = reg_read(&mut b, rm::NOTIFY_POP.offset);
    assert_eq!(rm::POP_VALID.get(pop), 1);
    assert_eq!(rm::NOTIFY_LENGTH.get(pop), 4 * msg.len() as u32);
}

#[test]
fn external_pins_carry_the_link_when_loopback_is_off() {
    let mut b = BoardSim::new();
    map_and_enable(&mut b);
    let msg: Vec<u32> = (0..8u32).map(|i| 0xA000_0000 | i).collect();
    assert!(ok(mem_write(&mut b, SRC_PAGE << 12, &msg), fp::EV_MEM_DONE));
    doorbell(&mut b, 0, 32);
    b.run(200);
    let tx = b.link_tx();
    assert_eq!(
        tx.iter().filter(|w| w.eop).count(),
        1,
        "one packet on the pins"
    );
    // Nothing came back by itself.
    assert_eq!(mem_read(&mut b, DST_PAGE << 12, 8).unwrap(), [0; 8]);
    // Feed the packet to the RX pins, with idle cycles around it.
    let mut rx = vec![LinkWord::default(); 3];
    rx.extend(tx);
    rx.push(LinkWord::default());
    b.push_link_rx(&rx);
    wait_event(&mut b, fp::EV_IRQ.mask() as u16);
    assert_eq!(mem_read(&mut b, DST_PAGE << 12, 8).unwrap(), msg);
}

#[test]
fn leds_pulse() {
    use vassa_spec::board::led;
    let mut b = BoardSim::new();
    b.set_wire_in(fp::WI_CONTROL.addr, fp::CONTROL_LOOPBACK.mask() as u16);
    b.run(10);
    assert_ne!(b.leds() & 1 << led::LOOPBACK, 0);
    map_and_enable(&mut b);
    assert!(ok(
        mem_write(&mut b, SRC_PAGE << 12, &[1, 2, 3, 4]),
        fp::EV_MEM_DONE
    ));
    b.run(4 * vassa_sim::board::FP_LED_STRETCH_CYCLES as u64);
    assert_eq!(b.leds() & 0x6F, 0, "dark after the stretch");
    // The doorbell's second register write by hand, to watch the LEDs from its trigger on.
    reg_write(&mut b, rm::DB_ADDR.offset, SRC_PAGE << 12);
    b.set_wire_in(fp::WI_REG_ADDR.addr, rm::DB_PUSH.offset as u16);
    b.set_wire_in(fp::WI_REG_WDATA_LO.addr, 16);
    b.set_wire_in(fp::WI_REG_WDATA_HI.addr, 0);
    b.activate_trigger_in(fp::TI_COMMAND.addr, fp::CMD_REG_WRITE.lsb);
    let mut seen = 0u8;
    let mut heartbeat = [false; 2];
    for _ in 0..400 {
        b.run(1);
        seen |= b.leds();
        heartbeat[(b.leds() >> led::HEARTBEAT) as usize & 1] = true;
    }
    for bit in [led::SENT, led::RECEIVED, led::IRQ, led::HOST_REG] {
        assert_ne!(seen & 1 << bit, 0, "LED {bit} never lit ({seen:#010b})");
    }
    assert_eq!(seen & 1 << led::DROP, 0, "no drop");
    assert_eq!(heartbeat, [true, true], "heartbeat blinks");
}
