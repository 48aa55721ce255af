//! Register file and host bus: decodes `spec::regmap`, holds the doorbell and miss FIFOs and
//! the notification queue, latches interrupts, and forwards counter reads.
//!
//! Every offset and field position comes from `spec::regmap` through `Constant` fields (hdl_gen
//! cannot name Rust constants); field widths are literal type parameters, checked against the
//! spec at compile time by the `const` assertions below.

use crate::interfaces::{
    CounterReadController, DoorbellController, MapOpController, NotifyReceiver, RegBusResponder,
    RxMissHandler, TxMissHandler, CACHE_SLOT_BITS, COUNTER_SLOT_BITS, EPOCH_BITS, MAP_OP_BITS,
};
use crate::miss_queue::{MissQueue, MISS_RECORD_BITS};
use crate::notify_queue::NotifyQueue;
use crate::row_fifo::RowFifo;
use crate::spec::params::{CoreParams, DOORBELL_FIFO_DEPTH, NOTIFY_FIFO_DEPTH, PAGE_SHIFT};
use crate::spec::regmap::{self as rm, Register};
use crate::spec::Field;
use rust_hdl::prelude::*;

// The literal widths used below must match the spec.
const _: () = {
    assert!(rm::ADDR_BITS == 12);
    assert!(rm::NODE_ID_ID.width == 8);
    assert!(rm::MAP_KEY_PAGE.width == 20 && rm::MAP_PAGE_PAGE.width == 20);
    assert!(rm::MAP_ATTR_SLOT.width == 6 && rm::MAP_ATTR_EPOCH.width == 8);
    assert!(rm::MAP_CMD_OP.width == 2 && rm::MAP_CMD_SLOT.width == 6);
    assert!(rm::DB_PUSH_LENGTH.width == 16);
    assert!(rm::RESOLVE_TAG.width == 4 && rm::MISS_TAG.width == 4 && rm::MISS_PAGE.width == 20);
    assert!(rm::NOTIFY_LENGTH.width == 13);
    assert!(rm::STATUS_PARKED.width == 4);
    // Fields read with `get_bits::<W>(0)` start at bit 0.
    assert!(rm::NODE_ID_ID.lsb == 0 && rm::MAP_KEY_PAGE.lsb == 0 && rm::MAP_PAGE_PAGE.lsb == 0);
    assert!(rm::MAP_CMD_OP.lsb == 0 && rm::DB_PUSH_LENGTH.lsb == 0 && rm::MISS_PAGE.lsb == 0);
    assert!(rm::NOTIFY_LENGTH.lsb == 0);
    assert!(DOORBELL_FIFO_DEPTH == 16 && NOTIFY_FIFO_DEPTH == 16);
    assert!(rm::STATUS_MISS_USED.width as usize == crate::miss_queue::LEVEL_BITS);
};

/// The miss FIFO ([`MissQueue`]): `miss_buffer_packets + 1` records of a direction bit and a
/// tag, in flip-flops. The missing page is not stored: the block that missed holds it until the
/// host resolves the miss (the TX MMU in `miss.page`, the depacketizer in the parked packet's
/// miss buffer), so `MISS_POP` reads it there. Record layout: the tag in 3:0, the direction in
/// bit 4.
const MISS_RECORD_TX: usize = 4;
/// Bits of a queued doorbell: the address and the low 17 bits of the `DB_PUSH` word.
const DB_BITS: usize = 49;
/// The doorbell FIFO stores an entry in two block RAM rows (two iCE40 block RAMs instead of
/// four); it takes a push every other cycle, and a doorbell is two register writes
/// (`DB_ADDR`, `DB_PUSH`). A `DB_PUSH` in the cycle right after another one finds the FIFO
/// busy and is refused like a push into a full FIFO (`ERROR.db_overflow`).
type DoorbellFifo = RowFifo<DB_BITS>;
const DOORBELL_ROWS: usize = 2;
const _: () = assert!(
    rm::DB_PUSH_LENGTH.lsb == 0
        && rm::DB_PUSH_LENGTH.width == 16
        && rm::DB_PUSH_USER.lsb == 16
        && DOORBELL_FIFO_DEPTH as usize == crate::row_fifo::ROW_FIFO_DEPTH
);

/// A register offset as a bus-address constant.
fn at(r: Register) -> Constant<Bits<12>> {
    Constant::new((r.offset as u64).into())
}

/// A field's bit position as a shift constant.
fn lsb(f: Field) -> Constant<Bits<32>> {
    Constant::new((f.lsb as u64).into())
}

fn word(v: u32) -> Constant<Bits<32>> {
    Constant::new((v as u64).into())
}

#[derive(LogicBlock)]
pub struct RegFile {
    pub clock: Signal<In, Clock>,
    // Host bus.
    /// Host register bus.
    pub bus: RegBusResponder,
    pub irq: Signal<Out, Bit>,
    // Configuration.
    pub node_id: Signal<Out, Bits<8>>,
    pub tx_enable: Signal<Out, Bit>,
    /// MAP_CMD to the TX and the RX mapping cache: the same fields, a strobe each; while a
    /// cache is `busy` (installing) a MAP_CMD for it is refused (`ERROR.map_busy`).
    pub map_tx: MapOpController,
    pub map_rx: MapOpController,
    // Doorbell FIFO towards the TX MMU.
    /// Send descriptors, in push order, to the TX MMU.
    pub doorbell: DoorbellController,
    // Misses and their resolution.
    /// RX misses in, the parked page for MISS_POP, resolves out.
    pub rx_miss: RxMissHandler,
    /// The TX miss in, its resolve out.
    pub tx_miss: TxMissHandler,
    // Signal-on-write notifications.
    /// Signal-on-write notifications from the depacketizer, queued for the host.
    pub notify: NotifyReceiver,
    /// Pulse: a notification was lost to a full FIFO (counted by the counters block).
    pub notify_lost: Signal<Out, Bit>,
    /// Pulse: a miss record entered the miss FIFO (counted as a miss). RX and TX misses are
    /// serialised here, so each record is one pulse.
    pub miss_pushed: Signal<Out, Bit>,
    // Counter reads, forwarded to the counters block.
    /// Bus reads in the counter windows, forwarded to the traffic counters.
    pub counter_read: CounterReadController,
    // Status inputs.
    pub tx_busy: Signal<In, Bit>,
    pub bad_doorbell: Signal<In, Bit>,

    // FIFOs: one record per entry (a doorbell, a miss record, a notification).
    /// Doorbells: the `DB_PUSH` word's length and user bits in 16:0, the address above. Row 1
    /// (address bits 31:8) is written in the cycle after the push straight from `db_addr_q`,
    /// which a `DB_ADDR` write in that cycle changes only at its end (`held_input`).
    db_fifo: DoorbellFifo,
    miss_fifo: MissQueue,
    notify_queue: NotifyQueue,
    db_used: DFF<Bits<5>>,
    tx_miss_pending: DFF<Bit>,

    // Registers.
    node_id_q: DFF<Bits<8>>,
    control_q: DFFWithInit<Bits<32>>,
    irq_status_q: DFF<Bits<32>>,
    irq_mask_q: DFF<Bits<32>>,
    error_q: DFF<Bits<32>>,
    map_key_q: DFF<Bits<20>>,
    map_page_q: DFF<Bits<20>>,
    map_attr_q: DFF<Bits<32>>,
    map_cmd_q: DFF<Bits<32>>,
    map_rx_pulse: DFF<Bit>,
    map_tx_pulse: DFF<Bit>,
    resolve_q: DFF<Bits<32>>,
    rx_resolve_pulse: DFF<Bit>,
    tx_resolve_pulse: DFF<Bit>,
    db_addr_q: DFF<Bits<32>>,
    rdata: DFF<Bits<32>>,
    rvalid: DFF<Bit>,
    counter_wait: DFF<Bit>,
    // Scratch wires.
    miss_record: Signal<Local, Bits<MISS_RECORD_BITS>>,
    miss_pop_word: Signal<Local, Bits<32>>,
    rec_tx: Constant<Bits<MISS_RECORD_BITS>>,
    db_push: Signal<Local, Bit>,
    err_notify: Signal<Local, Bits<32>>,
    err_bad_db: Signal<Local, Bits<32>>,
    err_db_overflow: Signal<Local, Bits<32>>,
    err_map_busy: Signal<Local, Bits<32>>,
    err_miss_overflow: Signal<Local, Bits<32>>,
    error_clear: Signal<Local, Bits<32>>,
    irq_miss: Signal<Local, Bits<32>>,
    irq_signal: Signal<Local, Bits<32>>,
    irq_error: Signal<Local, Bits<32>>,
    irq_clear: Signal<Local, Bits<32>>,
    status_busy: Signal<Local, Bits<32>>,

    // Addresses.
    a_id: Constant<Bits<12>>,
    a_version: Constant<Bits<12>>,
    a_node_id: Constant<Bits<12>>,
    a_control: Constant<Bits<12>>,
    a_status: Constant<Bits<12>>,
    a_param0: Constant<Bits<12>>,
    a_param1: Constant<Bits<12>>,
    a_irq_status: Constant<Bits<12>>,
    a_irq_mask: Constant<Bits<12>>,
    a_irq_ack: Constant<Bits<12>>,
    a_error: Constant<Bits<12>>,
    a_miss_pop: Constant<Bits<12>>,
    a_miss_resolve: Constant<Bits<12>>,
    a_map_key: Constant<Bits<12>>,
    a_map_page: Constant<Bits<12>>,
    a_map_attr: Constant<Bits<12>>,
    a_map_cmd: Constant<Bits<12>>,
    a_db_addr: Constant<Bits<12>>,
    a_db_push: Constant<Bits<12>>,
    a_db_status: Constant<Bits<12>>,
    a_notify_nva: Constant<Bits<12>>,
    a_notify_pop: Constant<Bits<12>>,
    a_counters: Constant<Bits<12>>,
    // Values and field positions.
    v_id: Constant<Bits<32>>,
    v_version: Constant<Bits<32>>,
    v_param0: Constant<Bits<32>>,
    v_param1: Constant<Bits<32>>,
    v_pop_valid: Constant<Bits<32>>,
    v_tx_enable: Constant<Bits<32>>,
    v_irq_miss: Constant<Bits<32>>,
    v_irq_signal: Constant<Bits<32>>,
    v_irq_error: Constant<Bits<32>>,
    v_err_db_overflow: Constant<Bits<32>>,
    v_err_notify_overflow: Constant<Bits<32>>,
    v_err_bad_doorbell: Constant<Bits<32>>,
    v_err_map_busy: Constant<Bits<32>>,
    v_err_miss_overflow: Constant<Bits<32>>,
    v_miss_dir_tx: Constant<Bits<32>>,
    v_resolve_drop: Constant<Bits<32>>,
    v_resolve_tx: Constant<Bits<32>>,
    v_fifo_depth: Constant<Bits<5>>,
    s_parked: Constant<Bits<32>>,
    s_db_used: Constant<Bits<32>>,
    s_miss_used: Constant<Bits<32>>,
    s_notify_used: Constant<Bits<32>>,
    s_miss_tag: Constant<Bits<32>>,
    s_resolve_tag: Constant<Bits<32>>,
    v_attr_writable: Constant<Bits<32>>,
    v_attr_signal: Constant<Bits<32>>,
    v_cmd_tx: Constant<Bits<32>>,
    s_attr_slot: Constant<Bits<32>>,
    s_attr_epoch: Constant<Bits<32>>,
    /// Defined bits of MAP_ATTR, IRQ_MASK and ERROR: only they are stored (and read back).
    m_attr: Constant<Bits<32>>,
    m_irq_mask: Constant<Bits<32>>,
    m_error: Constant<Bits<32>>,
    s_cmd_slot: Constant<Bits<32>>,
}

/// Bit mask of a one-bit field.
fn bit(f: Field) -> Constant<Bits<32>> {
    assert_eq!(f.width, 1, "{} is not a flag", f.name);
    word(f.mask())
}

impl RegFile {
    pub fn new(params: &CoreParams) -> Self {
        let param0 = [
            (rm::PARAM0_TX_CACHE, params.tx_cache_entries),
            (rm::PARAM0_RX_CACHE, params.rx_cache_entries),
            (rm::PARAM0_SLOTS, params.counter_slots),
            (rm::PARAM0_MISS_BUF, params.miss_buffer_packets),
        ]
        .iter()
        .fold(0, |w, (f, v)| f.put(w, *v));
        let param1 = [
            (rm::PARAM1_MAX_PAYLOAD, params.max_payload),
            (rm::PARAM1_LINE, params.line_bytes),
            (rm::PARAM1_PAGE_SHIFT, PAGE_SHIFT),
        ]
        .iter()
        .fold(0, |w, (f, v)| f.put(w, *v));
        RegFile {
            clock: Default::default(),
            bus: Default::default(),
            irq: Default::default(),
            node_id: Default::default(),
            tx_enable: Default::default(),
            map_tx: Default::default(),
            map_rx: Default::default(),
            doorbell: Default::default(),
            rx_miss: Default::default(),
            tx_miss: Default::default(),
            notify: Default::default(),
            notify_lost: Default::default(),
            miss_pushed: Default::default(),
            counter_read: Default::default(),
            tx_busy: Default::default(),
            bad_doorbell: Default::default(),
            db_fifo: RowFifo::new(DOORBELL_ROWS).held_input(),
            miss_fifo: MissQueue::new(params),
            notify_queue: Default::default(),
            db_used: Default::default(),
            tx_miss_pending: Default::default(),
            node_id_q: Default::default(),
            control_q: DFFWithInit::new((rm::CONTROL.reset as u64).into()),
            irq_status_q: Default::default(),
            irq_mask_q: Default::default(),
            error_q: Default::default(),
            map_key_q: Default::default(),
            map_page_q: Default::default(),
            map_attr_q: Default::default(),
            map_cmd_q: Default::default(),
            map_rx_pulse: Default::default(),
            map_tx_pulse: Default::default(),
            resolve_q: Default::default(),
            rx_resolve_pulse: Default::default(),
            tx_resolve_pulse: Default::default(),
            db_addr_q: Default::default(),
            rdata: Default::default(),
            rvalid: Default::default(),
            counter_wait: Default::default(),
            miss_record: Default::default(),
            miss_pop_word: Default::default(),
            rec_tx: Constant::new((1u64 << MISS_RECORD_TX).into()),
            db_push: Default::default(),
            err_notify: Default::default(),
            err_bad_db: Default::default(),
            err_db_overflow: Default::default(),
            err_map_busy: Default::default(),
            err_miss_overflow: Default::default(),
            error_clear: Default::default(),
            irq_miss: Default::default(),
            irq_signal: Default::default(),
            irq_error: Default::default(),
            irq_clear: Default::default(),
            status_busy: Default::default(),
            a_id: at(rm::ID),
            a_version: at(rm::VERSION_REG),
            a_node_id: at(rm::NODE_ID),
            a_control: at(rm::CONTROL),
            a_status: at(rm::STATUS),
            a_param0: at(rm::PARAM0),
            a_param1: at(rm::PARAM1),
            a_irq_status: at(rm::IRQ_STATUS),
            a_irq_mask: at(rm::IRQ_MASK),
            a_irq_ack: at(rm::IRQ_ACK),
            a_error: at(rm::ERROR),
            a_miss_pop: at(rm::MISS_POP),
            a_miss_resolve: at(rm::MISS_RESOLVE),
            a_map_key: at(rm::MAP_KEY),
            a_map_page: at(rm::MAP_PAGE),
            a_map_attr: at(rm::MAP_ATTR),
            a_map_cmd: at(rm::MAP_CMD),
            a_db_addr: at(rm::DB_ADDR),
            a_db_push: at(rm::DB_PUSH),
            a_db_status: at(rm::DB_STATUS),
            a_notify_nva: at(rm::NOTIFY_NVA),
            a_notify_pop: at(rm::NOTIFY_POP),
            a_counters: Constant::new((rm::GLOBAL_COUNTER_BASE as u64).into()),
            v_id: word(rm::MAGIC),
            v_version: word(rm::VERSION),
            v_param0: word(param0),
            v_param1: word(param1),
            v_pop_valid: bit(rm::POP_VALID),
            v_tx_enable: bit(rm::CONTROL_TX_ENABLE),
            v_irq_miss: bit(rm::IRQ_MISS),
            v_irq_signal: bit(rm::IRQ_SIGNAL),
            v_irq_error: bit(rm::IRQ_ERROR),
            v_err_db_overflow: bit(rm::ERROR_DB_OVERFLOW),
            v_err_notify_overflow: bit(rm::ERROR_NOTIFY_OVERFLOW),
            v_err_bad_doorbell: bit(rm::ERROR_BAD_DOORBELL),
            v_err_map_busy: bit(rm::ERROR_MAP_BUSY),
            v_err_miss_overflow: bit(rm::ERROR_MISS_OVERFLOW),
            v_miss_dir_tx: bit(rm::MISS_DIR_TX),
            v_resolve_drop: bit(rm::RESOLVE_DROP),
            v_resolve_tx: bit(rm::RESOLVE_TX),
            v_fifo_depth: Constant::new((DOORBELL_FIFO_DEPTH as u64).into()),
            s_parked: lsb(rm::STATUS_PARKED),
            s_db_used: lsb(rm::STATUS_DB_USED),
            s_miss_used: lsb(rm::STATUS_MISS_USED),
            s_notify_used: lsb(rm::STATUS_NOTIFY_USED),
            s_miss_tag: lsb(rm::MISS_TAG),
            s_resolve_tag: lsb(rm::RESOLVE_TAG),
            v_attr_writable: bit(rm::MAP_ATTR_WRITABLE),
            v_attr_signal: bit(rm::MAP_ATTR_SIGNAL),
            v_cmd_tx: bit(rm::MAP_CMD_TX),
            s_attr_slot: lsb(rm::MAP_ATTR_SLOT),
            s_attr_epoch: lsb(rm::MAP_ATTR_EPOCH),
            m_attr: word(rm::MAP_ATTR.defined_mask()),
            m_irq_mask: word(rm::IRQ_MASK.defined_mask()),
            m_error: word(rm::ERROR.defined_mask()),
            s_cmd_slot: lsb(rm::MAP_CMD_SLOT),
        }
    }
}

impl Logic for RegFile {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            db_used,
            tx_miss_pending,
            node_id_q,
            control_q,
            irq_status_q,
            irq_mask_q,
            error_q,
            map_key_q,
            map_page_q,
            map_attr_q,
            map_cmd_q,
            map_rx_pulse,
            map_tx_pulse,
            resolve_q,
            rx_resolve_pulse,
            tx_resolve_pulse,
            db_addr_q,
            rdata,
            rvalid,
            counter_wait
        );
        clock!(self, clock, db_fifo, miss_fifo, notify_queue);

        // ---- Outputs from registers.
        self.node_id.next = self.node_id_q.q.val();
        self.tx_enable.next = (self.control_q.q.val() & self.v_tx_enable.val()).any();
        self.irq.next = (self.irq_status_q.q.val() & self.irq_mask_q.q.val()).any();
        self.map_tx.valid.next = self.map_tx_pulse.q.val();
        self.map_tx.code.next = self.map_cmd_q.q.val().get_bits::<MAP_OP_BITS>(0);
        self.map_tx.slot.next =
            bit_cast::<CACHE_SLOT_BITS, 32>(self.map_cmd_q.q.val() >> self.s_cmd_slot.val());
        self.map_tx.key.next = self.map_key_q.q.val();
        self.map_tx.page.next = self.map_page_q.q.val();
        self.map_tx.writable.next = (self.map_attr_q.q.val() & self.v_attr_writable.val()).any();
        self.map_tx.signal.next = (self.map_attr_q.q.val() & self.v_attr_signal.val()).any();
        self.map_tx.counter_slot.next =
            bit_cast::<COUNTER_SLOT_BITS, 32>(self.map_attr_q.q.val() >> self.s_attr_slot.val());
        self.map_tx.epoch.next =
            bit_cast::<EPOCH_BITS, 32>(self.map_attr_q.q.val() >> self.s_attr_epoch.val());
        // The RX cache takes the same fields with its own strobe.
        self.map_rx.valid.next = self.map_rx_pulse.q.val();
        self.map_rx.code.next = self.map_tx.code.val();
        self.map_rx.slot.next = self.map_tx.slot.val();
        self.map_rx.key.next = self.map_tx.key.val();
        self.map_rx.page.next = self.map_tx.page.val();
        self.map_rx.writable.next = self.map_tx.writable.val();
        self.map_rx.signal.next = self.map_tx.signal.val();
        self.map_rx.counter_slot.next = self.map_tx.counter_slot.val();
        self.map_rx.epoch.next = self.map_tx.epoch.val();
        self.rx_miss.resolve_valid.next = self.rx_resolve_pulse.q.val();
        self.tx_miss.resolve_valid.next = self.tx_resolve_pulse.q.val();
        self.tx_miss.resolve_drop.next = (self.resolve_q.q.val() & self.v_resolve_drop.val()).any();
        self.rx_miss.resolve_drop.next = self.tx_miss.resolve_drop.val();
        self.rx_miss.resolve_tag.next =
            bit_cast::<4, 32>(self.resolve_q.q.val() >> self.s_resolve_tag.val());
        self.bus.rdata.next = self.rdata.q.val();
        self.bus.rvalid.next = self.rvalid.q.val();
        self.map_rx_pulse.d.next = false;
        self.map_tx_pulse.d.next = false;
        self.rx_resolve_pulse.d.next = false;
        self.tx_resolve_pulse.d.next = false;

        // ---- Doorbell FIFO: pushed by DB_PUSH, popped by the TX MMU.
        self.doorbell.valid.next = !self.db_fifo.empty.val();
        self.doorbell.addr.next = self.db_fifo.data_out.val().get_bits::<32>(17);
        self.doorbell.length.next = self.db_fifo.data_out.val().get_bits::<16>(0);
        self.doorbell.user.next = self.db_fifo.data_out.val().get_bit(16);
        self.db_fifo.read.next = self.doorbell.ready.val() & !self.db_fifo.empty.val();
        self.db_fifo.data_in.next = bit_cast::<DB_BITS, 17>(self.bus.wdata.val().get_bits::<17>(0))
            | (bit_cast::<DB_BITS, 32>(self.db_addr_q.q.val()) << 17);
        self.db_push.next = false;
        self.irq_clear.next = 0.into();
        self.error_clear.next = 0.into();

        // ---- Miss FIFO: RX misses go first; a TX miss waits (the TX MMU has at most one miss
        // outstanding) until a cycle without an RX miss.
        if self.tx_miss.valid.val() {
            self.tx_miss_pending.d.next = true;
        }
        self.miss_fifo.push.next = false;
        self.miss_record.next = bit_cast::<MISS_RECORD_BITS, 4>(self.rx_miss.tag.val());
        if self.rx_miss.valid.val() {
            self.miss_fifo.push.next = true;
        } else if self.tx_miss_pending.q.val() {
            self.miss_record.next = self.rec_tx.val();
            self.miss_fifo.push.next = true;
            self.tx_miss_pending.d.next = self.tx_miss.valid.val();
        }
        self.miss_fifo.record.next = self.miss_record.val();
        self.rx_miss.parked_tag.next = self.miss_fifo.head.val().get_bits::<4>(0);
        // The MISS_POP word of the head record (a TX record's tag is 0).
        self.miss_pop_word.next = bit_cast::<32, 20>(self.rx_miss.parked_page.val())
            | (bit_cast::<32, 4>(self.rx_miss.parked_tag.val()) << self.s_miss_tag.val())
            | self.v_pop_valid.val();
        if (self.miss_fifo.head.val() & self.rec_tx.val()).any() {
            self.miss_pop_word.next = bit_cast::<32, 20>(self.tx_miss.page.val())
                | self.v_miss_dir_tx.val()
                | self.v_pop_valid.val();
        }
        self.miss_pushed.next = self.miss_fifo.pushed.val();
        self.miss_fifo.pop.next = false;

        // ---- Notification FIFO; a notification that finds it full is lost and reported.
        self.notify_queue.push.next = self.notify.valid.val();
        self.notify_queue.nva.next = self.notify.nva.val();
        self.notify_queue.length.next = self.notify.length.val();
        self.notify_queue.pop.next = false;
        self.notify_lost.next = self.notify_queue.lost.val();

        // ---- Bus writes.
        if self.bus.write.val() {
            if self.bus.addr.val() == self.a_node_id.val() {
                self.node_id_q.d.next = self.bus.wdata.val().get_bits::<8>(0);
            }
            if self.bus.addr.val() == self.a_control.val() {
                self.control_q.d.next = self.bus.wdata.val() & self.v_tx_enable.val();
            }
            if self.bus.addr.val() == self.a_irq_mask.val() {
                self.irq_mask_q.d.next = self.bus.wdata.val() & self.m_irq_mask.val();
            }
            if self.bus.addr.val() == self.a_irq_ack.val() {
                self.irq_clear.next = self.bus.wdata.val();
            }
            if self.bus.addr.val() == self.a_error.val() {
                self.error_clear.next = self.bus.wdata.val();
            }
            if self.bus.addr.val() == self.a_miss_resolve.val() {
                self.resolve_q.d.next = self.bus.wdata.val();
                if (self.bus.wdata.val() & self.v_resolve_tx.val()).any() {
                    self.tx_resolve_pulse.d.next = true;
                } else {
                    self.rx_resolve_pulse.d.next = true;
                }
            }
            if self.bus.addr.val() == self.a_map_key.val() {
                self.map_key_q.d.next = self.bus.wdata.val().get_bits::<20>(0);
            }
            if self.bus.addr.val() == self.a_map_page.val() {
                self.map_page_q.d.next = self.bus.wdata.val().get_bits::<20>(0);
            }
            if self.bus.addr.val() == self.a_map_attr.val() {
                self.map_attr_q.d.next = self.bus.wdata.val() & self.m_attr.val();
            }
            if self.bus.addr.val() == self.a_map_cmd.val() {
                self.map_cmd_q.d.next = self.bus.wdata.val();
                if (self.bus.wdata.val() & self.v_cmd_tx.val()).any() {
                    self.map_tx_pulse.d.next = true;
                } else {
                    self.map_rx_pulse.d.next = true;
                }
            }
            if self.bus.addr.val() == self.a_db_addr.val() {
                self.db_addr_q.d.next = self.bus.wdata.val();
            }
            if self.bus.addr.val() == self.a_db_push.val() {
                self.db_push.next = true;
            }
        }
        self.db_fifo.write.next = self.db_push.val() & !self.db_fifo.full.val();

        // ---- Errors and interrupt causes: W1C clears, and a set in the same cycle wins.
        self.err_notify.next = 0.into();
        if self.notify_lost.val() {
            self.err_notify.next = self.v_err_notify_overflow.val();
        }
        self.err_bad_db.next = 0.into();
        if self.bad_doorbell.val() {
            self.err_bad_db.next = self.v_err_bad_doorbell.val();
        }
        self.err_db_overflow.next = 0.into();
        if self.db_push.val() & self.db_fifo.full.val() {
            self.err_db_overflow.next = self.v_err_db_overflow.val();
        }
        self.err_map_busy.next = 0.into();
        if (self.map_rx_pulse.q.val() & self.map_rx.busy.val())
            | (self.map_tx_pulse.q.val() & self.map_tx.busy.val())
        {
            self.err_map_busy.next = self.v_err_map_busy.val();
        }
        // Only the defined bits hold a value (the others are constant 0, and yosys cannot prove
        // that of `q & !clear`: 29 flip-flops each in ERROR and IRQ_STATUS otherwise).
        self.err_miss_overflow.next = 0.into();
        if self.miss_fifo.lost.val() {
            self.err_miss_overflow.next = self.v_err_miss_overflow.val();
        }
        self.error_q.d.next = (self.error_q.q.val() & !self.error_clear.val() & self.m_error.val())
            | self.err_notify.val()
            | self.err_bad_db.val()
            | self.err_db_overflow.val()
            | self.err_map_busy.val()
            | self.err_miss_overflow.val();
        self.irq_miss.next = 0.into();
        if self.miss_fifo.pushed.val() {
            self.irq_miss.next = self.v_irq_miss.val();
        }
        self.irq_signal.next = 0.into();
        if self.notify_queue.pushed.val() {
            self.irq_signal.next = self.v_irq_signal.val();
        }
        // The error cause is a level: any ERROR bit still set.
        self.irq_error.next = 0.into();
        if self.error_q.q.val().any() {
            self.irq_error.next = self.v_irq_error.val();
        }
        self.irq_status_q.d.next = (self.irq_status_q.q.val()
            & !self.irq_clear.val()
            & (self.v_irq_miss.val() | self.v_irq_signal.val()))
            | self.irq_miss.val()
            | self.irq_signal.val()
            | self.irq_error.val();

        self.status_busy.next = 0.into();
        if self.tx_busy.val() {
            self.status_busy.next = 1.into();
        }

        // ---- Bus reads: registers answer the next cycle, counters when the counters block
        // answers (the bus master waits for read valid).
        self.rvalid.d.next = false;
        self.counter_read.strobe.next = false;
        self.counter_read.addr.next = self.bus.addr.val();
        if self.counter_wait.q.val() & self.counter_read.valid.val() {
            self.rdata.d.next = self.counter_read.data.val();
            self.rvalid.d.next = true;
            self.counter_wait.d.next = false;
        }
        if self.bus.read.val() {
            if self.bus.addr.val() >= self.a_counters.val() {
                self.counter_read.strobe.next = true;
                self.counter_wait.d.next = true;
            } else {
                self.rvalid.d.next = true;
                self.rdata.d.next = 0.into();
                if self.bus.addr.val() == self.a_id.val() {
                    self.rdata.d.next = self.v_id.val();
                }
                if self.bus.addr.val() == self.a_version.val() {
                    self.rdata.d.next = self.v_version.val();
                }
                if self.bus.addr.val() == self.a_node_id.val() {
                    self.rdata.d.next = bit_cast::<32, 8>(self.node_id_q.q.val());
                }
                if self.bus.addr.val() == self.a_control.val() {
                    self.rdata.d.next = self.control_q.q.val();
                }
                if self.bus.addr.val() == self.a_status.val() {
                    self.rdata.d.next = self.status_busy.val()
                        | (bit_cast::<32, 4>(self.rx_miss.parked.val()) << self.s_parked.val())
                        | (bit_cast::<32, 5>(self.db_used.q.val()) << self.s_db_used.val())
                        | (bit_cast::<32, 5>(self.miss_fifo.level.val()) << self.s_miss_used.val())
                        | (bit_cast::<32, 5>(self.notify_queue.level.val())
                            << self.s_notify_used.val());
                }
                if self.bus.addr.val() == self.a_param0.val() {
                    self.rdata.d.next = self.v_param0.val();
                }
                if self.bus.addr.val() == self.a_param1.val() {
                    self.rdata.d.next = self.v_param1.val();
                }
                if self.bus.addr.val() == self.a_irq_status.val() {
                    self.rdata.d.next = self.irq_status_q.q.val();
                }
                if self.bus.addr.val() == self.a_irq_mask.val() {
                    self.rdata.d.next = self.irq_mask_q.q.val();
                }
                if self.bus.addr.val() == self.a_error.val() {
                    self.rdata.d.next = self.error_q.q.val();
                }
                if (self.bus.addr.val() == self.a_miss_pop.val()) & self.miss_fifo.head_valid.val()
                {
                    self.rdata.d.next = self.miss_pop_word.val();
                    self.miss_fifo.pop.next = true;
                }
                if self.bus.addr.val() == self.a_map_key.val() {
                    self.rdata.d.next = bit_cast::<32, 20>(self.map_key_q.q.val());
                }
                if self.bus.addr.val() == self.a_map_page.val() {
                    self.rdata.d.next = bit_cast::<32, 20>(self.map_page_q.q.val());
                }
                if self.bus.addr.val() == self.a_map_attr.val() {
                    self.rdata.d.next = self.map_attr_q.q.val();
                }
                if self.bus.addr.val() == self.a_db_addr.val() {
                    self.rdata.d.next = self.db_addr_q.q.val();
                }
                if self.bus.addr.val() == self.a_db_status.val() {
                    self.rdata.d.next =
                        bit_cast::<32, 5>(self.v_fifo_depth.val() - self.db_used.q.val());
                }
                if (self.bus.addr.val() == self.a_notify_nva.val())
                    & self.notify_queue.head_valid.val()
                {
                    self.rdata.d.next = self.notify_queue.head_nva.val();
                }
                if (self.bus.addr.val() == self.a_notify_pop.val())
                    & self.notify_queue.head_valid.val()
                {
                    self.rdata.d.next = self.notify_queue.head_meta.val() | self.v_pop_valid.val();
                    self.notify_queue.pop.next = true;
                }
            }
        }

        // ---- FIFO levels for STATUS and DB_STATUS.
        if self.db_fifo.write.val() & !self.db_fifo.read.val() {
            self.db_used.d.next = self.db_used.q.val() + 1;
        }
        if !self.db_fifo.write.val() & self.db_fifo.read.val() {
            self.db_used.d.next = self.db_used.q.val() - 1;
        }
    }
}

#[cfg(test)]
mod tests;
