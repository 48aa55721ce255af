//! A tiny in-process stand-in for the board's FrontPanel bridge, to test the protocol's edge
//! handling (chunks, partial words, refusals, timeouts, irq, quiet) without a simulation.
//! Commands complete at once; their events show with the next `update_trigger_outs`.

use super::board_fabric::{BoardConfig, BoardError, BoardFabric, CHUNK_BYTES};
use super::endpoints::{check_pipe_len, EndpointError, Endpoints};
use crate::fabric::Fabric;
use proptest::prelude::*;
use std::collections::{HashMap, VecDeque};
use vassa_spec::board::{fp, BOARD_MAGIC};
use vassa_spec::regmap as rm;

struct FakeBoard {
    magic: u16,
    mem: Vec<u8>,
    regs: HashMap<u32, u32>,
    wire_set: [u16; 0x20],
    wire_in: [u16; 0x20],
    wire_out: [u16; 0x20],
    pending_events: u16,
    events: u16,
    pipe_in: VecDeque<u16>,
    pipe_out: VecDeque<u16>,
    errors: u16,
    rdata: u32,
    irq_line: bool,
    /// Register commands never finish.
    hang_regs: bool,
    /// STATUS reads show a busy TX path.
    tx_busy: bool,
    cycles: u64,
    /// Memory commands as (write, byte address, words).
    log: Vec<(bool, u32, u16)>,
}

impl FakeBoard {
    fn new(mem_kib: u16) -> Self {
        FakeBoard {
            magic: BOARD_MAGIC,
            mem: vec![0; mem_kib as usize * 1024],
            regs: HashMap::new(),
            wire_set: [0; 0x20],
            wire_in: [0; 0x20],
            wire_out: [0; 0x20],
            pending_events: 0,
            events: 0,
            pipe_in: VecDeque::new(),
            pipe_out: VecDeque::new(),
            errors: 0,
            rdata: 0,
            irq_line: false,
            hang_regs: false,
            tx_busy: false,
            cycles: 0,
            log: Vec::new(),
        }
    }

    fn set_irq(&mut self, on: bool) {
        if on && !self.irq_line {
            self.pending_events |= fp::EV_IRQ.mask() as u16;
        }
        self.irq_line = on;
    }

    fn mem_addr(&self) -> u32 {
        let w = &self.wire_in;
        (w[fp::WI_MEM_ADDR_HI.addr as usize] as u32) << 16
            | w[fp::WI_MEM_ADDR_LO.addr as usize] as u32
    }

    fn command(&mut self, bit: u32) {
        let w = self.wire_in;
        let words = w[fp::WI_MEM_WORDS.addr as usize];
        let addr = self.mem_addr();
        let fits = words >= 1
            && words as u32 <= fp::PIPE_CHUNK_WORDS
            && addr.is_multiple_of(4)
            && addr as usize + words as usize * 4 <= self.mem.len();
        let refuse = |b: &mut Self| {
            b.errors = b.errors.saturating_add(1);
            b.pending_events |= fp::EV_ERROR.mask() as u16;
        };
        match bit {
            b if b == fp::CMD_REG_WRITE.lsb || b == fp::CMD_REG_READ.lsb => {
                let a = w[fp::WI_REG_ADDR.addr as usize] as u32;
                if a > 0xFFF {
                    return refuse(self);
                }
                if b == fp::CMD_REG_WRITE.lsb {
                    let v = (w[fp::WI_REG_WDATA_HI.addr as usize] as u32) << 16
                        | w[fp::WI_REG_WDATA_LO.addr as usize] as u32;
                    self.regs.insert(a, v);
                } else if a == rm::STATUS.offset {
                    self.rdata = rm::STATUS_TX_BUSY.put(0, self.tx_busy as u32);
                } else {
                    self.rdata = self.regs.get(&a).copied().unwrap_or(0);
                }
                if !self.hang_regs {
                    self.pending_events |= fp::EV_REG_DONE.mask() as u16;
                }
            }
            b if b == fp::CMD_MEM_WRITE.lsb => {
                self.log.push((true, addr, words));
                if !fits || self.pipe_in.len() < 2 * words as usize {
                    self.pipe_in.clear();
                    return refuse(self);
                }
                for i in 0..words as usize * 2 {
                    let h = self.pipe_in.pop_front().unwrap().to_le_bytes();
                    self.mem[addr as usize + 2 * i..][..2].copy_from_slice(&h);
                }
                self.pending_events |= fp::EV_MEM_DONE.mask() as u16;
            }
            b if b == fp::CMD_MEM_READ.lsb => {
                self.log.push((false, addr, words));
                if !fits || !self.pipe_out.is_empty() {
                    return refuse(self);
                }
                let bytes = &self.mem[addr as usize..][..words as usize * 4];
                let halves = bytes.chunks(2).map(|h| u16::from_le_bytes([h[0], h[1]]));
                self.pipe_out.extend(halves);
                self.pending_events |= fp::EV_MEM_DONE.mask() as u16;
            }
            b if b == fp::CMD_FLUSH.lsb => {
                self.pipe_in.clear();
                self.pipe_out.clear();
                self.pending_events |= fp::EV_MEM_DONE.mask() as u16;
            }
            _ => {}
        }
    }
}

impl Endpoints for FakeBoard {
    fn set_wire_in(&mut self, addr: u8, value: u16) -> Result<(), EndpointError> {
        self.cycles += 1;
        self.wire_set[addr as usize] = value;
        Ok(())
    }
    fn update_wire_ins(&mut self) -> Result<(), EndpointError> {
        self.cycles += 1;
        self.wire_in = self.wire_set;
        Ok(())
    }
    fn update_wire_outs(&mut self) -> Result<(), EndpointError> {
        self.cycles += 1;
        let loopback = self.wire_in[fp::WI_CONTROL.addr as usize] as u32 & 1;
        let status = fp::STATUS_IRQ.put(0, self.irq_line as u32);
        let status = fp::STATUS_LOOPBACK.put(status, loopback);
        let o = &mut self.wire_out;
        o[(fp::WO_REG_RDATA_LO.addr - 0x20) as usize] = self.rdata as u16;
        o[(fp::WO_REG_RDATA_HI.addr - 0x20) as usize] = (self.rdata >> 16) as u16;
        o[(fp::WO_STATUS.addr - 0x20) as usize] = status as u16;
        o[(fp::WO_MEM_KIB.addr - 0x20) as usize] = (self.mem.len() / 1024) as u16;
        o[(fp::WO_MAGIC.addr - 0x20) as usize] = self.magic;
        o[(fp::WO_ERRORS.addr - 0x20) as usize] = self.errors;
        Ok(())
    }
    fn get_wire_out(&self, addr: u8) -> u16 {
        self.wire_out[(addr - 0x20) as usize]
    }
    fn activate_trigger_in(&mut self, addr: u8, bit: u32) -> Result<(), EndpointError> {
        self.cycles += 1;
        assert_eq!(addr, fp::TI_COMMAND.addr);
        self.command(bit);
        Ok(())
    }
    fn update_trigger_outs(&mut self) -> Result<(), EndpointError> {
        self.cycles += 1;
        self.events = std::mem::take(&mut self.pending_events);
        Ok(())
    }
    fn is_triggered(&self, addr: u8, mask: u16) -> bool {
        addr == fp::TO_EVENTS.addr && self.events & mask != 0
    }
    fn write_to_pipe_in(&mut self, addr: u8, data: &[u8]) -> Result<(), EndpointError> {
        check_pipe_len("WriteToPipeIn", addr, data.len())?;
        self.cycles += 1;
        let halves = data.chunks(2).map(|h| u16::from_le_bytes([h[0], h[1]]));
        self.pipe_in.extend(halves);
        Ok(())
    }
    fn read_from_pipe_out(&mut self, addr: u8, data: &mut [u8]) -> Result<(), EndpointError> {
        check_pipe_len("ReadFromPipeOut", addr, data.len())?;
        self.cycles += 1;
        for (i, h) in data.chunks_mut(2).enumerate() {
            let Some(v) = self.pipe_out.pop_front() else {
                return Err(EndpointError::Short {
                    op: "ReadFromPipeOut",
                    addr,
                    wanted: data.len(),
                    moved: 2 * i,
                });
            };
            h.copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }
    fn now_core_cycles(&self) -> u64 {
        self.cycles
    }
    fn advance(&mut self, core_cycles: u64) {
        self.cycles += core_cycles;
    }
}

fn open(mem_kib: u16) -> BoardFabric<FakeBoard> {
    BoardFabric::open(FakeBoard::new(mem_kib)).unwrap()
}

#[test]
fn open_checks_magic_and_memory_and_sets_loopback() {
    let mut b = FakeBoard::new(64);
    b.magic = 0x1234;
    let e = BoardFabric::open(b).err().unwrap();
    assert_eq!(e, BoardError::NotVassa { found: 0x1234 });
    assert!(e.to_string().contains("not a VASSA bitstream"), "{e}");
    assert_eq!(
        BoardFabric::open(FakeBoard::new(0)).err(),
        Some(BoardError::NoMemory)
    );
    let f = open(64);
    assert_eq!(f.mem_size(0), 64 * 1024);
    assert_eq!(f.endpoints().wire_in[fp::WI_CONTROL.addr as usize], 1);
    let cfg = BoardConfig {
        loopback: false,
        ..BoardConfig::default()
    };
    let f = BoardFabric::with_config(FakeBoard::new(64), cfg).unwrap();
    assert!(!f.loopback());
    assert_eq!(f.endpoints().wire_in[fp::WI_CONTROL.addr as usize], 0);
}

#[test]
fn registers_round_trip_and_unchanged_wires_are_not_resent() {
    let mut f = open(4);
    f.write_reg(0, 0x40, 0xDEAD_BEEF);
    f.write_reg(0, 0x44, 0x0001_0002);
    assert_eq!(f.read_reg(0, 0x40), 0xDEAD_BEEF);
    assert_eq!(f.read_reg(0, 0x44), 0x0001_0002);
    let before = f.stats().wire_updates;
    assert_eq!(f.read_reg(0, 0x44), 0x0001_0002);
    assert_eq!(
        f.stats().wire_updates,
        before,
        "same address: no UpdateWireIns"
    );
    assert_eq!(f.stats().reg_reads, 3);
    assert_eq!(f.stats().reg_writes, 2);
    assert_eq!(
        f.try_read_reg(0x1_0000),
        Err(BoardError::BadRegister { addr: 0x1_0000 })
    );
    // Above the 12-bit bus: the board refuses, the host says so.
    assert_eq!(
        f.try_write_reg(0x1000, 1),
        Err(BoardError::Refused {
            op: "register write",
            addr: 0x1000,
            words: 1,
            errors: 1
        })
    );
    assert_eq!(f.read_reg(0, 0x40), 0xDEAD_BEEF, "the link still works");
}

#[test]
fn partial_words_are_read_modified_written_and_chunks_are_at_most_256_words() {
    let mut f = open(16);
    f.mem_write(0, 0, &[0xAA; 16]);
    f.endpoints_mut().log.clear();
    // One byte inside a word: read that word, write it back.
    f.mem_write(0, 5, &[1]);
    assert_eq!(f.endpoints().log, vec![(false, 4, 1), (true, 4, 1)]);
    // Three bytes over two words: both edges read, one two-word write.
    f.endpoints_mut().log.clear();
    f.mem_write(0, 7, &[2, 3, 4]);
    assert_eq!(
        f.endpoints().log,
        vec![(false, 4, 1), (false, 8, 1), (true, 4, 2)]
    );
    let mut got = [0u8; 16];
    f.mem_read(0, 0, &mut got);
    let mut want = [0xAA; 16];
    want[5] = 1;
    want[7..10].copy_from_slice(&[2, 3, 4]);
    assert_eq!(got, want);
    // Aligned and a whole number of chunks: no reads, exactly two commands.
    f.endpoints_mut().log.clear();
    f.mem_write(0, 0x400, &vec![7u8; 2 * CHUNK_BYTES]);
    assert_eq!(
        f.endpoints().log,
        vec![(true, 0x400, 256), (true, 0x800, 256)]
    );
    // One word more: a third command of one word.
    f.endpoints_mut().log.clear();
    let mut buf = vec![0u8; 2 * CHUNK_BYTES + 4];
    f.mem_read(0, 0x400, &mut buf);
    assert_eq!(
        f.endpoints().log,
        vec![(false, 0x400, 256), (false, 0x800, 256), (false, 0xC00, 1)]
    );
    assert!(buf[..2 * CHUNK_BYTES].iter().all(|&b| b == 7));
    assert_eq!(&buf[2 * CHUNK_BYTES..], &[0, 0, 0, 0]);
    // Empty ranges move nothing (even at the very end of memory).
    f.endpoints_mut().log.clear();
    f.mem_write(0, 16 * 1024, &[]);
    f.mem_read(0, 16 * 1024, &mut []);
    assert!(f.endpoints().log.is_empty());
}

#[test]
fn ranges_outside_memory_are_refused_by_the_host_and_by_the_board() {
    let mut f = open(4);
    let e = f.try_mem_write(4096 - 2, &[1, 2, 3]).unwrap_err();
    assert_eq!(
        e,
        BoardError::OutOfRange {
            addr: 4094,
            len: 3,
            mem: 4096
        }
    );
    assert!(f.endpoints().log.is_empty(), "nothing sent");
    // The board's own check: one command past the end.
    let e = f.write_chunk(4096 - 4, &[9; 8]).unwrap_err();
    assert_eq!(
        e,
        BoardError::Refused {
            op: "memory write",
            addr: 4092,
            words: 2,
            errors: 1
        }
    );
    assert!(f.endpoints().pipe_in.is_empty(), "FIFO flushed");
    let e = f.read_chunk(4096, &mut [0; 4]).unwrap_err();
    assert!(matches!(e, BoardError::Refused { errors: 2, .. }), "{e}");
    assert_eq!(f.stats().refused, 2);
    // A refused command leaves the link usable.
    f.mem_write(0, 4092, &[1, 2, 3, 4]);
    let mut got = [0; 4];
    f.mem_read(0, 4092, &mut got);
    assert_eq!(got, [1, 2, 3, 4]);
    // Commands the link cannot express are refused before anything is sent.
    assert!(matches!(
        f.write_chunk(2, &[0; 4]),
        Err(BoardError::BadCommand { .. })
    ));
    assert!(matches!(
        f.read_chunk(0, &mut vec![0; CHUNK_BYTES + 4]),
        Err(BoardError::BadCommand { .. })
    ));
}

#[test]
fn a_command_without_its_event_times_out() {
    let cfg = BoardConfig {
        timeout: 500,
        ..BoardConfig::default()
    };
    let mut f = BoardFabric::with_config(FakeBoard::new(4), cfg).unwrap();
    f.endpoints_mut().hang_regs = true;
    let t0 = f.cycle();
    match f.try_read_reg(0x10) {
        Err(BoardError::Timeout {
            event: "reg_done",
            waited,
            ..
        }) => assert!(waited > 500 && f.cycle() - t0 < 600, "{waited}"),
        other => panic!("{other:?}"),
    }
}

#[test]
#[should_panic(expected = "board: write_reg: register write at 0x24: timeout, no `reg_done` event")]
fn fabric_methods_panic_naming_the_timeout() {
    let mut f = open(4);
    f.endpoints_mut().hang_regs = true;
    f.write_reg(0, 0x24, 1);
}

#[test]
fn irq_follows_the_status_wire_and_irq_events() {
    let mut f = open(4);
    assert!(!f.irq(0));
    f.endpoints_mut().set_irq(true);
    f.run(10);
    assert!(f.irq(0));
    f.endpoints_mut().set_irq(false);
    f.run(10);
    assert!(!f.irq(0));
    // An irq event seen while waiting for a command raises the line at once.
    f.endpoints_mut().set_irq(true);
    f.endpoints_mut().irq_line = false; // the event is pending, the wire not refetched
    f.write_reg(0, 0x40, 1);
    assert!(f.irq(0));
    // run_until stops on the irq line within one poll step.
    f.run(1);
    assert!(!f.irq(0));
    f.endpoints_mut().set_irq(true);
    let t0 = f.cycle();
    assert!(f.run_until(1_000_000, |f| f.irq(0)));
    assert!(
        f.cycle() - t0 < 2 * f.config().poll_step,
        "{}",
        f.cycle() - t0
    );
}

#[test]
fn quiet_after_the_tx_path_was_seen_idle_for_the_window() {
    let mut f = open(4);
    let window = f.config().quiet_window;
    f.run(window);
    assert!(f.quiet());
    f.write_reg(0, rm::DB_PUSH.offset, 64);
    assert!(!f.quiet());
    f.endpoints_mut().tx_busy = true;
    f.run(window * 2);
    assert!(!f.quiet(), "STATUS says busy");
    f.endpoints_mut().tx_busy = false;
    f.run(1);
    let idle_at = f.cycle();
    assert!(!f.quiet(), "idle, but not for the window yet");
    assert!(f.run_until(10 * window, |f| f.quiet()));
    assert!(f.cycle() >= idle_at + window - 16);
    // A card waiting on its miss is quiet even with TX busy: the irq line says so.
    f.write_reg(0, rm::DB_PUSH.offset, 64);
    f.endpoints_mut().tx_busy = true;
    f.endpoints_mut().set_irq(true);
    assert!(f.run_until(10 * window, |f| f.quiet()));
}

#[test]
fn subscriptions_are_for_node_0_only() {
    let mut f = open(4);
    f.subscribe(0x1000, 0);
    f.subscribe(0x1001, 0);
    f.unsubscribe(0x1000, 0);
    assert_eq!(
        f.subscriptions().iter().copied().collect::<Vec<_>>(),
        [0x1001]
    );
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.subscribe(0x1000, 1)));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(msg, "board fabric: no node 1 (a board is one card, node 0)");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn memory_matches_a_byte_model(
        ops in prop::collection::vec((any::<bool>(), 0u32..12_000, 0usize..2_600, any::<u8>()), 1..12)
    ) {
        let mut f = open(12);
        let mut model = vec![0u8; 12 * 1024];
        for (write, addr, len, seed) in ops {
            let len = len.min(model.len() - addr as usize);
            let r = addr as usize..addr as usize + len;
            if write {
                let bytes: Vec<u8> = (0..len).map(|i| seed.wrapping_add((i as u8).wrapping_mul(3))).collect();
                f.mem_write(0, addr, &bytes);
                model[r].copy_from_slice(&bytes);
            } else {
                let mut buf = vec![0u8; len];
                f.mem_read(0, addr, &mut buf);
                prop_assert_eq!(&buf[..], &model[r]);
            }
        }
        let mut all = vec![0u8; model.len()];
        f.mem_read(0, 0, &mut all);
        prop_assert_eq!(all, model);
        prop_assert!(f.endpoints().log.iter().all(|c| c.2 as u32 <= fp::PIPE_CHUNK_WORDS));
    }
}
