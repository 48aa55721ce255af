//! Tests of the `regfile` block: behaviour against its reference, replay in Icarus, synthesis checks.
use super::*;
use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench};

type B = Bench<RegFile>;

fn bench() -> B {
    Bench::new(RegFile::new(&CoreParams::default()), |r| &mut r.clock)
}

fn write(b: &mut B, addr: u32, value: u32) {
    b.uut.bus.addr.next = (addr as u64).into();
    b.uut.bus.wdata.next = (value as u64).into();
    b.uut.bus.write.next = true;
    b.step();
    b.uut.bus.write.next = false;
}

/// Issues a read and answers counter reads after `counter_delay` cycles with `addr ^ 0xC0DE`.
fn read_with(b: &mut B, addr: u32, counter_delay: usize) -> u32 {
    b.uut.bus.addr.next = (addr as u64).into();
    b.uut.bus.read.next = true;
    b.settle();
    let forwarded = b.uut.counter_read.strobe.val();
    if forwarded {
        assert_eq!(b.uut.counter_read.addr.val().index() as u32, addr);
    }
    b.step();
    b.uut.bus.read.next = false;
    for i in 0..20 {
        if b.uut.bus.rvalid.val() {
            return b.uut.bus.rdata.val().to_u64() as u32;
        }
        let answer = forwarded && i == counter_delay;
        b.uut.counter_read.valid.next = answer;
        b.uut.counter_read.data.next = ((addr ^ 0xC0DE) as u64).into();
        b.step();
        b.uut.counter_read.valid.next = false;
    }
    panic!("no read valid for {addr:#x}");
}

fn read(b: &mut B, addr: u32) -> u32 {
    read_with(b, addr, 0)
}

#[test]
fn hardware_checks() {
    yosys_check("regfile", RegFile::new(&CoreParams::default()));
    lint_check("regfile", RegFile::new(&CoreParams::default()));
}

#[test]
fn identification_and_parameters_come_from_the_spec() {
    let p = CoreParams {
        tx_cache_entries: 8,
        max_payload: 512,
        ..Default::default()
    };
    let mut b = Bench::new(RegFile::new(&p), |r| &mut r.clock);
    assert_eq!(read(&mut b, rm::ID.offset), rm::MAGIC);
    assert_eq!(read(&mut b, rm::VERSION_REG.offset), rm::VERSION);
    let p0 = read(&mut b, rm::PARAM0.offset);
    assert_eq!(rm::PARAM0_TX_CACHE.get(p0), 8);
    assert_eq!(rm::PARAM0_RX_CACHE.get(p0), 16);
    let p1 = read(&mut b, rm::PARAM1.offset);
    assert_eq!(rm::PARAM1_MAX_PAYLOAD.get(p1), 512);
    assert_eq!(rm::PARAM1_PAGE_SHIFT.get(p1), PAGE_SHIFT);
    assert_eq!(read(&mut b, rm::CONTROL.offset), rm::CONTROL.reset);
    assert!(b.uut.tx_enable.val());
    write(&mut b, rm::NODE_ID.offset, 0x1A5);
    assert_eq!(read(&mut b, rm::NODE_ID.offset), 0xA5);
    assert_eq!(b.uut.node_id.val().index(), 0xA5);
    assert_eq!(read(&mut b, 0x0FC), 0, "unmapped register reads 0");
}

#[test]
fn map_command_pulses_the_chosen_cache_once() {
    let mut b = bench();
    write(&mut b, rm::MAP_KEY.offset, 0x12345);
    write(&mut b, rm::MAP_PAGE.offset, 0xABCDE);
    let attr = [
        (rm::MAP_ATTR_WRITABLE, 1),
        (rm::MAP_ATTR_SIGNAL, 1),
        (rm::MAP_ATTR_SLOT, 33),
        (rm::MAP_ATTR_EPOCH, 0x7E),
    ]
    .iter()
    .fold(0, |w, (f, v)| f.put(w, *v));
    write(&mut b, rm::MAP_ATTR.offset, attr);
    let cmd = rm::MAP_CMD_SLOT.put(rm::MAP_CMD_TX.put(rm::MAP_OP_INSTALL, 1), 9);
    write(&mut b, rm::MAP_CMD.offset, cmd);
    assert!(b.uut.map_tx.valid.val() && !b.uut.map_rx.valid.val());
    assert_eq!(b.uut.map_tx.code.val().index() as u32, rm::MAP_OP_INSTALL);
    assert_eq!(b.uut.map_tx.slot.val().index(), 9);
    assert_eq!(b.uut.map_tx.key.val().index(), 0x12345);
    assert_eq!(b.uut.map_tx.page.val().index(), 0xABCDE);
    assert!(b.uut.map_tx.writable.val() && b.uut.map_tx.signal.val());
    assert_eq!(b.uut.map_tx.counter_slot.val().index(), 33);
    assert_eq!(b.uut.map_tx.epoch.val().index(), 0x7E);
    b.step();
    assert!(!b.uut.map_tx.valid.val(), "a pulse lasts one cycle");
    write(&mut b, rm::MAP_CMD.offset, rm::MAP_OP_FLUSH);
    assert!(b.uut.map_rx.valid.val() && !b.uut.map_tx.valid.val());
    b.step();
    assert_eq!(read(&mut b, rm::ERROR.offset), 0);
    // A MAP_CMD for a busy cache is refused there: ERROR.map_busy tells the host. The
    // other cache being busy does not matter.
    b.uut.map_tx.busy.next = true;
    write(&mut b, rm::MAP_CMD.offset, rm::MAP_OP_FLUSH);
    b.step();
    assert_eq!(read(&mut b, rm::ERROR.offset), 0);
    write(
        &mut b,
        rm::MAP_CMD.offset,
        rm::MAP_CMD_TX.put(rm::MAP_OP_FLUSH, 1),
    );
    b.step();
    assert_eq!(read(&mut b, rm::ERROR.offset), rm::ERROR_MAP_BUSY.mask());
    b.uut.map_tx.busy.next = false;
}

#[test]
fn doorbells_queue_in_order_and_overflow_is_reported() {
    let mut b = bench();
    b.record();
    let depth = DOORBELL_FIFO_DEPTH;
    for i in 0..=depth {
        write(&mut b, rm::DB_ADDR.offset, 0x1000 + i * 0x0301_0501);
        write(
            &mut b,
            rm::DB_PUSH.offset,
            rm::DB_PUSH_USER.put(i + 1, i & 1),
        );
    }
    assert_eq!(read(&mut b, rm::DB_STATUS.offset), 0);
    let err = read(&mut b, rm::ERROR.offset);
    assert_eq!(err, rm::ERROR_DB_OVERFLOW.mask());
    write(&mut b, rm::IRQ_MASK.offset, rm::IRQ_ERROR.mask());
    b.step();
    assert!(b.uut.irq.val());
    write(&mut b, rm::ERROR.offset, err);
    b.step();
    assert_eq!(read(&mut b, rm::ERROR.offset), 0);
    assert!(!b.uut.irq.val(), "error cause follows ERROR");
    for i in 0..depth {
        assert!(b.uut.doorbell.valid.val());
        assert_eq!(
            b.uut.doorbell.addr.val().to_u64() as u32,
            0x1000 + i * 0x0301_0501
        );
        assert_eq!(b.uut.doorbell.length.val().index() as u32, i + 1);
        assert_eq!(b.uut.doorbell.user.val(), i & 1 == 1);
        b.uut.doorbell.ready.next = true;
        b.step();
        b.uut.doorbell.ready.next = false;
        // The next doorbell is at the head two cycles after a pop (two RAM rows).
        b.step();
    }
    assert!(
        !b.uut.doorbell.valid.val(),
        "the overflowing doorbell was discarded"
    );
    assert_eq!(read(&mut b, rm::DB_STATUS.offset), depth);
    b.replay_qualified(
        "regfile_doorbells",
        &[
            ("doorbell$addr", "doorbell$valid"),
            ("doorbell$length", "doorbell$valid"),
            ("doorbell$user", "doorbell$valid"),
        ],
    );
}

#[test]
fn simultaneous_misses_are_both_recorded_and_raise_the_interrupt() {
    let mut b = bench();
    b.record();
    write(&mut b, rm::IRQ_MASK.offset, rm::IRQ_MISS.mask());
    b.uut.rx_miss.valid.next = true;
    b.uut.rx_miss.tag.next = 3.into();
    // The depacketizer's and the TX MMU's pages, held until the misses are resolved.
    b.uut.rx_miss.parked_page.next = 0x11111.into();
    b.uut.tx_miss.valid.next = true;
    b.uut.tx_miss.page.next = 0x22222.into();
    b.step();
    b.uut.rx_miss.valid.next = false;
    b.uut.tx_miss.valid.next = false;
    b.steps(2);
    assert!(b.uut.irq.val());
    let status = read(&mut b, rm::STATUS.offset);
    assert_eq!(rm::STATUS_MISS_USED.get(status), 2);
    assert_eq!(
        b.uut.rx_miss.parked_tag.val(),
        Bits::<4>::from(3),
        "the RX record is the head"
    );
    let first = read(&mut b, rm::MISS_POP.offset);
    assert_eq!(rm::POP_VALID.get(first), 1);
    assert_eq!(rm::MISS_DIR_TX.get(first), 0);
    assert_eq!(rm::MISS_PAGE.get(first), 0x11111);
    assert_eq!(rm::MISS_TAG.get(first), 3);
    let second = read(&mut b, rm::MISS_POP.offset);
    assert_eq!(rm::MISS_DIR_TX.get(second), 1);
    assert_eq!(rm::MISS_PAGE.get(second), 0x22222);
    assert_eq!(rm::POP_VALID.get(read(&mut b, rm::MISS_POP.offset)), 0);
    write(&mut b, rm::IRQ_ACK.offset, rm::IRQ_MISS.mask());
    b.step();
    assert!(!b.uut.irq.val());
    assert_eq!(read(&mut b, rm::IRQ_STATUS.offset), 0);
    b.replay("regfile_misses");
}

/// A host that resolves misses without popping their records fills the miss FIFO
/// (`miss_buffer_packets + 1` records): the next record is not stored, not counted as a
/// miss, and ERROR.miss_overflow says so. The stored records are still popped in order.
#[test]
fn a_record_that_finds_the_miss_fifo_full_is_reported() {
    let mut b = bench();
    b.record();
    let depth = CoreParams::default().miss_fifo_depth();
    for tag in 0..=depth {
        b.uut.rx_miss.valid.next = true;
        b.uut.rx_miss.tag.next = (tag as u64).into();
        b.settle();
        assert_eq!(b.uut.miss_pushed.val(), tag < depth, "record {tag}");
        b.step();
    }
    b.uut.rx_miss.valid.next = false;
    b.step();
    let status = read(&mut b, rm::STATUS.offset);
    assert_eq!(rm::STATUS_MISS_USED.get(status), depth);
    assert_eq!(
        read(&mut b, rm::ERROR.offset),
        rm::ERROR_MISS_OVERFLOW.mask()
    );
    for tag in 0..depth {
        let r = read(&mut b, rm::MISS_POP.offset);
        assert_eq!(rm::POP_VALID.get(r), 1);
        assert_eq!(rm::MISS_TAG.get(r), tag);
    }
    assert_eq!(rm::POP_VALID.get(read(&mut b, rm::MISS_POP.offset)), 0);
    b.replay("regfile_miss_overflow");
}

#[test]
fn resolve_pulses_the_right_direction() {
    let mut b = bench();
    let v = rm::RESOLVE_TAG.put(rm::RESOLVE_DROP.mask(), 5);
    write(&mut b, rm::MISS_RESOLVE.offset, v);
    assert!(b.uut.rx_miss.resolve_valid.val() && !b.uut.tx_miss.resolve_valid.val());
    assert!(b.uut.tx_miss.resolve_drop.val());
    assert_eq!(b.uut.rx_miss.resolve_tag.val().index(), 5);
    write(&mut b, rm::MISS_RESOLVE.offset, rm::RESOLVE_TX.mask());
    assert!(b.uut.tx_miss.resolve_valid.val() && !b.uut.tx_miss.resolve_drop.val());
}

#[test]
fn notifications_queue_and_a_full_fifo_loses_one_visibly() {
    let mut b = bench();
    b.record();
    let n = NOTIFY_FIFO_DEPTH + 1;
    let mut lost = 0;
    for i in 0..n {
        b.uut.notify.valid.next = true;
        b.uut.notify.nva.next = ((0x4000 + i * 8) as u64).into();
        b.uut.notify.length.next = ((i + 1) as u64).into();
        b.settle();
        lost += b.uut.notify_lost.val() as u32;
        b.step();
    }
    b.uut.notify.valid.next = false;
    b.step();
    assert_eq!(lost, 1);
    assert_eq!(
        read(&mut b, rm::ERROR.offset),
        rm::ERROR_NOTIFY_OVERFLOW.mask()
    );
    assert_eq!(rm::IRQ_SIGNAL.get(read(&mut b, rm::IRQ_STATUS.offset)), 1);
    for i in 0..NOTIFY_FIFO_DEPTH {
        assert_eq!(read(&mut b, rm::NOTIFY_NVA.offset), 0x4000 + i * 8);
        let meta = read(&mut b, rm::NOTIFY_POP.offset);
        assert_eq!(rm::POP_VALID.get(meta), 1);
        assert_eq!(meta, rm::POP_VALID.put(rm::NOTIFY_LENGTH.put(0, i + 1), 1));
    }
    assert_eq!(rm::POP_VALID.get(read(&mut b, rm::NOTIFY_POP.offset)), 0);
    b.replay("regfile_notify");
}

#[test]
fn counter_reads_wait_for_the_counters_block() {
    let mut b = bench();
    for (addr, delay) in [
        (rm::global_counter_addr(2), 0),
        (rm::slot_counter_addr(31, 3), 4),
    ] {
        assert_eq!(read_with(&mut b, addr, delay), addr ^ 0xC0DE);
    }
}

/// The plain read/write and read-only registers, as software sees them: (register, bits
/// that hold what is written; 0 for read-only).
fn storage_registers() -> Vec<(Register, u32)> {
    vec![
        (rm::ID, 0),
        (rm::VERSION_REG, 0),
        (rm::PARAM0, 0),
        (rm::PARAM1, 0),
        (rm::NODE_ID, rm::NODE_ID_ID.mask()),
        (rm::CONTROL, rm::CONTROL_TX_ENABLE.mask()),
        (
            rm::IRQ_MASK,
            rm::IRQ_MISS.mask() | rm::IRQ_SIGNAL.mask() | rm::IRQ_ERROR.mask(),
        ),
        (rm::MAP_KEY, rm::MAP_KEY_PAGE.mask()),
        (rm::MAP_PAGE, rm::MAP_PAGE_PAGE.mask()),
        (
            rm::MAP_ATTR,
            rm::MAP_ATTR_WRITABLE.mask()
                | rm::MAP_ATTR_SIGNAL.mask()
                | rm::MAP_ATTR_SLOT.mask()
                | rm::MAP_ATTR_EPOCH.mask(),
        ),
        (rm::DB_ADDR, u32::MAX),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Random writes and reads of the storage registers read back what a register model
    /// says: masked writes, read-only registers unchanged by writes, resets from the spec.
    #[test]
    fn storage_registers_match_a_register_model(
        ops in proptest::collection::vec((0usize..11, proptest::prelude::any::<bool>(),
                                          proptest::prelude::any::<u32>()), 1..40)
    ) {
        let params = CoreParams::default();
        let mut b = Bench::new(RegFile::new(&params), |r| &mut r.clock);
        let regs = storage_registers();
        let mut model: Vec<u32> = regs.iter().map(|(r, _)| r.reset).collect();
        // PARAM registers depend on the parameters, not on a fixed reset value.
        model[2] = read(&mut b, rm::PARAM0.offset);
        model[3] = read(&mut b, rm::PARAM1.offset);
        proptest::prop_assert_eq!(rm::PARAM0_TX_CACHE.get(model[2]), params.tx_cache_entries);
        for (index, is_write, value) in ops {
            let (reg, mask) = regs[index];
            if is_write {
                write(&mut b, reg.offset, value);
                if mask != 0 {
                    model[index] = value & mask;
                }
            } else {
                proptest::prop_assert_eq!(read(&mut b, reg.offset), model[index], "{}", reg.name);
            }
        }
        for (index, (reg, _)) in regs.iter().enumerate() {
            proptest::prop_assert_eq!(read(&mut b, reg.offset), model[index], "{}", reg.name);
        }
    }
}
