//! Tests of the `uart_bridge` block: behaviour against its reference, replay in Icarus, synthesis checks.
use super::host_model::*;
use super::*;
use std::collections::{HashMap, VecDeque};
use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench, XorShift};

/// Clocks per bit in the tests: rust-hdl's simulation is slow, so the line is fast.
const CPB: usize = 4;

/// What the fake card saw, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    RegWrite(u32, u32),
    RegRead(u32),
    MemWrite(u32, u32),
    MemRead(u32),
}

const MEM_BYTES: usize = 4096;

/// The bridge against a software register file and memory with random `ready`.
struct FakeCard {
    b: Bench<UartBridge>,
    regs: HashMap<u32, u32>,
    mem: Vec<u32>,
    rng: XorShift,
    ready_pct: u64,
    reg_reply: Option<u32>,
    mem_replies: VecDeque<(u32, u32)>,
    ops: Vec<Op>,
    replied: usize,
    refused: usize,
}

impl FakeCard {
    fn new(timeout_bits: u32) -> Self {
        let b = Bench::new(
            UartBridge::with_timeout(CPB as u32, MEM_BYTES, timeout_bits),
            |u| &mut u.clock,
        );
        FakeCard {
            b,
            regs: HashMap::new(),
            mem: (0..MEM_BYTES as u32 / 4)
                .map(|i| i.wrapping_mul(0x0101_0101))
                .collect(),
            rng: XorShift(0x1234_5678),
            ready_pct: 60,
            reg_reply: None,
            mem_replies: VecDeque::new(),
            ops: Vec::new(),
            replied: 0,
            refused: 0,
        }
    }
}

impl UartDut for FakeCard {
    fn cycle(&mut self, rx: bool) -> bool {
        let u = &mut self.b.uut;
        u.rx.next = rx;
        u.bus.rvalid.next = self.reg_reply.is_some();
        u.bus.rdata.next = (self.reg_reply.take().unwrap_or(0xDEAD_BEEF) as u64).into();
        let ready = self.rng.chance(self.ready_pct);
        u.host.ready.next = ready;
        let mem_reply = match self.mem_replies.front_mut() {
            Some((0, _)) => self.mem_replies.pop_front().map(|(_, v)| v),
            Some((delay, _)) => {
                *delay -= 1;
                None
            }
            None => None,
        };
        let u = &mut self.b.uut;
        u.host.rvalid.next = mem_reply.is_some();
        u.host.rdata.next = (mem_reply.unwrap_or(0xBAD0_BAD0) as u64).into();
        self.b.settle();
        let u = &self.b.uut;
        let (addr, wdata) = (u.bus.addr.val().index() as u32, u.bus.wdata.val().to_u32());
        if u.bus.write.val() {
            self.ops.push(Op::RegWrite(addr, wdata));
            self.regs.insert(addr, wdata);
        }
        if u.bus.read.val() {
            self.ops.push(Op::RegRead(addr));
            self.reg_reply = Some(self.regs.get(&addr).copied().unwrap_or(0));
        }
        let (maddr, mdata) = (u.host.addr.val().to_u32(), u.host.wdata.val().to_u32());
        assert!(!(u.host.write.val() && u.host.read.val()));
        if ready && u.host.write.val() {
            self.ops.push(Op::MemWrite(maddr, mdata));
            self.mem[maddr as usize / 4] = mdata;
        }
        if ready && u.host.read.val() {
            self.ops.push(Op::MemRead(maddr));
            let delay = (self.rng.next_u64() % 3) as u32;
            self.mem_replies
                .push_back((delay, self.mem[maddr as usize / 4]));
        }
        self.b.step();
        self.replied += self.b.uut.replied.val() as usize;
        self.refused += self.b.uut.refused.val() as usize;
        self.b.uut.tx.val()
    }
}

const LIMIT: usize = 200 * CPB * 10;

#[test]
fn every_opcode_round_trips() {
    let mut card = FakeCard::new(DEFAULT_TIMEOUT_BITS);
    card.b.record();
    let mut host = SerialHost::new(CPB);
    let ack = vec![uart::ACK];
    let mut request = |op, addr, data| {
        let f = frame(op, addr, data);
        exchange(&mut card, &mut host, &f, reply_len(op), LIMIT)
    };
    assert_eq!(request(uart::OP_REG_WRITE, 0x24, Some(0xA5A5_0F0F)), ack);
    assert_eq!(word(&request(uart::OP_REG_READ, 0x24, None)), 0xA5A5_0F0F);
    assert_eq!(request(uart::OP_MEM_WRITE, 0xFFC, Some(0x1234_5678)), ack);
    assert_eq!(word(&request(uart::OP_MEM_READ, 0xFFC, None)), 0x1234_5678);
    assert_eq!(word(&request(uart::OP_MEM_READ, 0x10, None)), 0x0404_0404);
    let got = word(&request(uart::OP_INFO, 0, None));
    assert_eq!(got, BOARD_MAGIC as u32 | (MEM_BYTES as u32 / 1024) << 16);
    assert_eq!(
        card.ops,
        [
            Op::RegWrite(0x24, 0xA5A5_0F0F),
            Op::RegRead(0x24),
            Op::MemWrite(0xFFC, 0x1234_5678),
            Op::MemRead(0xFFC),
            Op::MemRead(0x10),
        ]
    );
    assert_eq!((card.replied, card.refused), (6, 0));
    card.b.replay("uart_bridge");
}

#[test]
fn refused_requests_get_one_nak_each_and_touch_nothing() {
    let mut card = FakeCard::new(DEFAULT_TIMEOUT_BITS);
    let mut host = SerialHost::new(CPB);
    let nak = vec![uart::NAK];
    for f in [
        vec![b'x'],
        vec![0x00],
        frame(uart::OP_REG_READ, 0x1000, None),
        frame(uart::OP_REG_WRITE, 0x22, Some(1)),
        frame(uart::OP_REG_WRITE, 0x8000_0000, Some(1)),
        frame(uart::OP_MEM_READ, MEM_BYTES as u32, None),
        frame(uart::OP_MEM_WRITE, 0xFFFF_FFFC, Some(7)),
        frame(uart::OP_MEM_WRITE, 0x102, Some(7)),
    ] {
        assert_eq!(
            exchange(&mut card, &mut host, &f, 1, LIMIT),
            nak,
            "{f:02x?}"
        );
    }
    assert_eq!(card.ops, []);
    assert_eq!((card.replied, card.refused), (8, 8));
}

#[test]
fn back_to_back_frames_are_answered_in_order() {
    let mut card = FakeCard::new(DEFAULT_TIMEOUT_BITS);
    let mut host = SerialHost::new(CPB);
    let mut bytes = Vec::new();
    for i in 0..4u32 {
        bytes.extend(frame(uart::OP_MEM_WRITE, 4 * i, Some(0x100 + i)));
        bytes.extend(frame(uart::OP_MEM_READ, 4 * i, None));
    }
    bytes.push(b'?');
    bytes.extend(frame(uart::OP_INFO, 0, None));
    let got = exchange(&mut card, &mut host, &bytes, 4 * 5 + 1 + 4, 10 * LIMIT);
    let mut want = Vec::new();
    for i in 0..4u32 {
        want.push(uart::ACK);
        want.extend((0x100 + i).to_le_bytes());
    }
    want.push(uart::NAK);
    want.extend((BOARD_MAGIC as u32 | 4 << 16).to_le_bytes());
    assert_eq!(got, want);
}

#[test]
fn garbage_then_a_valid_frame() {
    let mut card = FakeCard::new(DEFAULT_TIMEOUT_BITS);
    let mut host = SerialHost::new(CPB);
    // A byte with a framing error, then a garbage byte, then a frame.
    host.send_byte(b'r', false);
    let mut bytes = vec![0xFF];
    bytes.extend(frame(uart::OP_REG_WRITE, 0x30, Some(99)));
    let got = exchange(&mut card, &mut host, &bytes, 3, LIMIT);
    assert_eq!(got, [uart::NAK, uart::NAK, uart::ACK]);
    // A break (30 bit times low) is one framing error: one NAK.
    host.send_break(30);
    let got = exchange(
        &mut card,
        &mut host,
        &frame(uart::OP_INFO, 0, None),
        5,
        LIMIT,
    );
    assert_eq!((got.len(), got[0]), (5, uart::NAK), "{got:02x?}");
    assert_eq!(word(&got[1..]), BOARD_MAGIC as u32 | 4 << 16);
    assert_eq!(card.ops, [Op::RegWrite(0x30, 99)]);
}

#[test]
fn an_idle_gap_abandons_a_frame_with_one_nak() {
    let timeout_bits = 24;
    let mut card = FakeCard::new(timeout_bits);
    let mut host = SerialHost::new(CPB);
    // Three bytes of a 5-byte read, then silence: one NAK after the gap.
    let r = frame(uart::OP_REG_READ, 0x40, None);
    assert_eq!(
        exchange(&mut card, &mut host, &r[..3], 1, LIMIT),
        [uart::NAK]
    );
    // The bridge is back on a frame boundary.
    assert_eq!(exchange(&mut card, &mut host, &r, 4, LIMIT), [0; 4]);
    // A frame with a framing error inside is refused as a whole (one NAK, not five).
    host.send(&r[..2]);
    host.send_byte(r[2], false);
    let got = exchange(&mut card, &mut host, &r[3..], 1, LIMIT);
    assert_eq!(got, [uart::NAK, uart::NAK, uart::NAK]);
    assert_eq!(card.ops, [Op::RegRead(0x40)]);
}

#[test]
fn frames_arriving_while_the_card_stalls_are_counted_and_nakd_in_order() {
    let mut card = FakeCard::new(DEFAULT_TIMEOUT_BITS);
    let mut host = SerialHost::new(CPB);
    card.ready_pct = 0;
    // The write stalls; the read and three garbage bytes complete while the executor is
    // busy and are owed NAKs.
    let mut bytes = frame(uart::OP_MEM_WRITE, 8, Some(5));
    bytes.extend(frame(uart::OP_MEM_READ, 8, None));
    bytes.extend([1, 2, 3]);
    host.send(&bytes);
    for _ in 0..(bytes.len() + 2) * 10 * CPB {
        let level = host.level();
        let tx = card.cycle(level);
        host.observe(tx);
    }
    assert!(host.received.is_empty());
    card.ready_pct = 100;
    let got = exchange(&mut card, &mut host, &[], 1 + 4, LIMIT);
    assert_eq!(got, [uart::ACK, uart::NAK, uart::NAK, uart::NAK, uart::NAK]);
    assert_eq!(card.ops, [Op::MemWrite(8, 5)]);
    assert_eq!((card.replied, card.refused), (5, 4));
}

#[test]
fn verilog_is_clean() {
    yosys_check("uart_bridge", UartBridge::new(100, 8192));
    lint_check("uart_bridge", UartBridge::new(100, 8192));
}
