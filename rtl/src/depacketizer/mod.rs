//! Depacketizer (RX MMU): receives link packets, checks them, translates the destination
//! through the RX mapping cache and hands accepted packets to the [`LineWriter`]; packets that
//! miss wait in a miss buffer until the host resolves them.
//!
//! # Structure
//! - One [`PacketRam`] of `rx_buffer_words()` words holds the payload words of received
//!   packets (header words go to registers, the trailer is compared on the fly). It has no
//!   collision bypass: the writer only reads words stored earlier (what it reads past a job's
//!   end, possibly while it is written, is never used):
//!   - the *receive ring*, words `0..rx_ring_words()` (two largest packets plus one per miss
//!     buffer, rounded up to a power of two): packets whose page hit the cache, stored back to back and wrapping. A write pointer, a read pointer (start
//!     of the next packet for the writer) and a free pointer (start of the oldest packet not yet
//!     written) run around it;
//!   - `miss_buffer_packets` *miss buffers* of `1 << rx_slot_shift()` words after the ring, one
//!     per packet whose page missed, kept while it is parked and until its retry is written.
//!     The miss tag is the miss buffer number.
//! - Receive FSM: issues the cache lookup of the NVA page at the header, runs the CRC
//!   ([`Crc32Step`]) over every word as it arrives and, at end of packet, registers a verdict
//!   request (framing, trailer). The link is never stalled. Payload words reach the RAM through
//!   a two-stage delay, so the lookup result has chosen the destination before payload word 0
//!   is stored: a hit goes to the ring, a miss to a free miss buffer (none free: the words are
//!   not stored and the packet becomes a miss-overflow at its verdict).
//! - A ring word that would overwrite words not yet written to memory is not stored: the packet
//!   is marked overrun. The room check is registered, a cycle ahead, so the ring holds at most
//!   `rx_ring_words() - 1` words. The writer is faster than the link, so this only happens
//!   while memory back-pressures (`mem_wr.ready` low) or a retried packet takes the writer for long.
//! - Verdict stage (one packet per cycle): link packets first, then a retried parked packet.
//!   Outcomes in order: ring overrun (or job queue full), malformed, crc/epoch, miss (park, or
//!   miss-overflow), epoch mismatch, protection, write job. A dropped ring packet is the newest
//!   in the ring: the write pointer goes back to its start. A write job of a ring packet enters
//!   the job queue (a [`RowFifo`] of 72-bit entries: physical address; signal, counter slot and
//!   NVA page; length).
//! - The `trace` output (`spec::trace`, the core's `rx_trace`) registers each verdict (link or
//!   retry, its code, the miss buffer), each host drop and each packet written, as one-cycle
//!   pulses beside the events of the same decision. Invariant, which the simulator's
//!   per-copy accounting relies on: every *link packet* — a run that starts with start of
//!   packet, ends with end of packet, has at least two words and no start of packet inside —
//!   gets exactly one link verdict, in the order the packets ended on the link (the receive
//!   FSM raises one verdict request per such run, and link requests take the verdict stage
//!   before retries); cut runs, one-word runs and stray runs get none (they are counted
//!   `drop_malformed` directly).
//! - `parked` counts a packet from its park verdict until its miss buffer is freed: its retry
//!   written to memory, dropped at the retry (epoch, protection), or dropped by the host.
//! - Retries go one at a time, from lookup to the end of the packet's write: a parked packet's
//!   header stays in its miss buffer's registers until the buffer is freed, so the retry, its
//!   write job and its delivery read it there and keep only the lookup result, instead of
//!   copying the header at every stage (registers are most of this block's logic cells).
//!   For the lookup port's rules (preemption, `lookup.hold`) see Timing.
//! - The [`LineWriter`] takes ring jobs first, then the retried packet's job. Its `done` frees
//!   the packet's words (ring: the free pointer moves past them; miss buffer: the buffer) and
//!   raises `delivered_*` (and `notify_*` for mappings with `signal`). Ring words are freed
//!   strictly in packet order.
//!
//! # Framing rules (also those of `vassa_model::rx::split_link_units`)
//! A word with `link.sop` starts a packet; if a packet was open it ends there as malformed (its
//! stored words are released). A word without `link.sop` while no packet is open starts a stray
//! run, malformed, that ends at `link.eop` or at the next `link.sop`. A word with `link.eop` ends the
//! open packet or run. A packet is well formed when its header length is `1..=max_payload` and
//! it has exactly `spec::packet::packet_words(length)` words.
//!
//! # Timing (cycle `s` = header word 0, `e` = end-of-packet word on the link)
//! - Lookup on the port in `s + 1`; result in `s + 3`, which picks the destination; payload word
//!   `k` (on the link in `s + 2 + k`) is stored in `s + 4 + k`, the last one in `e + 1`.
//! - The cache's lookup port: a lookup presented in the cycle right after another preempts it
//!   (the earlier one's result comes at its usual time with `lookup.result_valid` low), and
//!   `lookup.hold` asks requesters that can wait to present none.
//!   - Link lookups take the port whenever they come and ignore `lookup.hold`. Well-formed
//!     packets are at least 4 words, so link lookups are at least 4 cycles apart; a link
//!     lookup preempted by the next one (its packet cut by a start of packet in `s + 1`) has
//!     its result ignored anyway (the packet generation no longer matches).
//!   - A retry lookup is issued only in a cycle without a link lookup to issue, with no lookup
//!     presented in it (so a retry never preempts one) and `lookup.hold` low; it is withdrawn
//!     (`lookup.valid` stays low) if `lookup.hold` is high in the cycle it would be presented.
//!   - A retry preempted by a link lookup (a start of packet in the cycle it is presented) or
//!     withdrawn is issued again for the same miss buffer under the same rules: no event, no
//!     drop.
//! - Verdict in `e + 1`; event pulses (`miss.valid`, `drop_*`, including `drop_rx_overrun`)
//!   and the trace's verdict in `e + 2`.
//! - A write job is visible to the writer in `e + 3` (job queue latency), first beat in `e + 4`
//!   when the writer is idle; `delivered_*` the cycle after the last beat.
//! - Throughput: a packet of `w` payload words takes `w + 3` link cycles and at most `w + 1`
//!   writer beats, so with memory always ready the ring holds at most the packet being
//!   written plus the one arriving, and no packet is lost at line rate, parked misses or not.
//! - `drop_malformed` can have two sources in one cycle (a packet cut by a new start of packet
//!   that is itself a one-word packet); pending pulses are counted and come out one per cycle.
//!
//! # Files
//! - `mod.rs` (this file): the block's ports, registers and sub-blocks ([`PacketRam`], the
//!   [`LineWriter`], [`Crc32Step`], the job queue) and the widths they share.
//! - `construct.rs`: [`Depacketizer::new`], which sizes the miss buffers and the ring from
//!   [`CoreParams`] and turns the spec's fields and verdict codes into constants.
//! - `update.rs`: the `#[hdl_gen]` logic, in the sections named above (receive FSM, lookup
//!   port, payload stores, verdict stage, resolves, per miss buffer state, line writer feed,
//!   event and trace outputs).
//! - `inspect.rs`: read-only views of internal state for the behaviour tests.
//! - `tests.rs`: the Verilog checks (yosys, Verilator lint) and the model's basics. The
//!   behaviour tests, with their bench (modelled cache and memory), are in
//!   `rtl/tests/rx_path.rs` and `rtl/tests/common/`; they check the block against the golden
//!   model's RX path (`vassa_model::rx::RxModel`, framing by `split_link_units` over the spec's
//!   `LinkWord`s), the same model the card model uses.

use crate::crc32::Crc32Step;
use crate::interfaces::{
    LinkReceiver, LookupController, MemWriteController, NotifySender, PacketEventSender,
    RxMissReporter, COUNTER_SLOT_BITS, EPOCH_BITS, PACKET_LENGTH_BITS, PAGE_BITS,
    PARKED_COUNT_BITS, TAG_BITS, WORD_BITS,
};
use crate::line_writer::LineWriter;
use crate::packet_ram::{PacketRam, PACKET_RAM_ADDR_BITS};
use crate::row_fifo::RowFifo;
#[cfg(doc)]
use crate::spec::params::CoreParams;
use crate::spec::trace::{RX_TRACE_BITS, VERDICT_CODE};
use rust_hdl::prelude::*;

mod construct;
mod inspect;
#[cfg(test)]
mod tests;
mod update;

/// Word index counter width (saturates; longer packets are malformed anyway).
const WIDX_BITS: usize = 12;
/// RAM addresses and ring pointers (the pointers run modulo 2^14, the ring is smaller).
const RA: usize = PACKET_RAM_ADDR_BITS;
/// Width of the `trace` output and of its verdict codes.
const TRACE_BITS: usize = RX_TRACE_BITS as usize;
const VERDICT_CODE_BITS: usize = VERDICT_CODE.width as usize;

/// Job queue of ring packets waiting for the writer: 16 entries of 72 bits (physical byte
/// address in 31:0, the meta word in 58:32, length in 71:59), three 24-bit block RAM rows per
/// entry (two iCE40 block RAMs instead of five). One job is pushed per link packet (at least
/// four cycles apart), and the head is refilled three cycles after a pop, within the four link
/// cycles of the shortest packet.
type JobQueue = RowFifo<JOB_BITS>;
const JOB_BITS: usize = 72;
const JOB_ROWS: usize = 3;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum RxState {
    /// Between packets.
    Idle,
    /// Receiving a packet.
    Recv,
    /// Words without start of packet: discarded, counted malformed at their end.
    Stray,
}

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum RetryState {
    Idle,
    /// Lookup of a parked packet issued, result not yet back.
    Wait,
    /// Result captured, waiting for the verdict stage.
    Ready,
    /// Write job of the retried packet waiting for the writer.
    Job,
    /// The writer is writing the retried packet.
    Write,
}

#[derive(LogicBlock)]
pub struct Depacketizer {
    pub clock: Signal<In, Clock>,
    // Link RX.
    /// The link, RX direction.
    pub link: LinkReceiver,
    /// RX cache lookups by NVA page, tagged with the packet's miss-buffer index.
    pub lookup: LookupController,
    // Misses.
    /// Misses of parked packets, the parked page the host asks about, and its answers.
    pub miss: RxMissReporter,
    // Memory write port.
    /// Payload writes into mapped pages.
    pub mem_wr: MemWriteController,
    // Events.
    /// A packet delivered, for the traffic counters.
    pub delivered: PacketEventSender,
    pub drop_crc_epoch: Signal<Out, Bit>,
    pub drop_protection: Signal<Out, Bit>,
    pub drop_miss_dropped: Signal<Out, Bit>,
    pub drop_miss_overflow: Signal<Out, Bit>,
    pub drop_malformed: Signal<Out, Bit>,
    pub drop_rx_overrun: Signal<Out, Bit>,
    // Notifications.
    /// Signal-on-write notifications (the mapping's signal flag).
    pub notify: NotifySender,
    /// The receive trace (`spec::trace`): verdicts, host drops and writes, one pulse each.
    pub trace: Signal<Out, Bits<TRACE_BITS>>,

    // Sub-blocks.
    ram: PacketRam,
    lw: LineWriter,
    crc: Crc32Step,
    /// Job queue of ring packets.
    jq: JobQueue,
    /// The job queue head: physical byte address.
    jq_addr: Signal<Local, Bits<WORD_BITS>>,
    /// The job queue head: signal (bit 26), counter slot (25:20), NVA page (19:0).
    jq_meta: Signal<Local, Bits<27>>,
    /// The job queue head: length.
    jq_len: Signal<Local, Bits<PACKET_LENGTH_BITS>>,
    /// The meta word of a job being pushed.
    jq_meta_in: Signal<Local, Bits<27>>,

    // Receive FSM.
    rx_state: DFF<RxState>,
    widx: DFF<Bits<WIDX_BITS>>,
    crc_q: DFF<Bits<WORD_BITS>>,
    gen: DFF<Bits<2>>,
    hdr_nva: DFF<Bits<WORD_BITS>>,
    hdr_len: DFF<Bits<PACKET_LENGTH_BITS>>,
    hdr_epoch: DFF<Bits<EPOCH_BITS>>,
    len_ok: DFF<Bit>,
    exp_last: DFF<Bits<WIDX_BITS>>,
    // Payload store delay (two stages) and the destination of the packet being received.
    store1_valid: DFF<Bit>,
    store1_data: DFF<Bits<WORD_BITS>>,
    store2_valid: DFF<Bit>,
    store2_data: DFF<Bits<WORD_BITS>>,
    pkt_to_ring: DFF<Bit>,
    pkt_missed: DFF<Bit>,
    pkt_miss_buf: DFF<Bits<TAG_BITS>>,
    pkt_start: DFF<Bits<RA>>,
    pkt_overrun: DFF<Bit>,
    mptr: DFF<Bits<RA>>,
    // Ring pointers: write, read (next job's start), free (oldest unwritten word).
    ring_wp: DFF<Bits<RA>>,
    ring_rd: DFF<Bits<RA>>,
    ring_free: DFF<Bits<RA>>,
    // The ring has room for the next word. Registered (the pointer subtraction was the core's
    // critical path), so it is computed a cycle ahead and keeps one word spare for the word
    // that cycle may store: the ring holds at most ring_words - 1 words.
    ring_room: DFF<Bit>,
    // Link lookup result of the packet being received.
    link_map_hit: DFF<Bit>,
    link_map_page: DFF<Bits<PAGE_BITS>>,
    link_map_writable: DFF<Bit>,
    link_map_signal: DFF<Bit>,
    link_map_slot: DFF<Bits<COUNTER_SLOT_BITS>>,
    link_map_epoch: DFF<Bits<EPOCH_BITS>>,
    // Lookup port and the pipeline that tells what a result belongs to.
    lk_valid: DFF<Bit>,
    lk_link: DFF<Bit>,
    lk_gen: DFF<Bits<2>>,
    p1_link: DFF<Bit>,
    p1_retry: DFF<Bit>,
    p1_gen: DFF<Bits<2>>,
    p2_link: DFF<Bit>,
    p2_retry: DFF<Bit>,
    p2_gen: DFF<Bits<2>>,
    // Verdict request registered at end of packet.
    eop_pending: DFF<Bit>,
    eop_malformed: DFF<Bit>,
    eop_crc_ok: DFF<Bit>,
    // Retry of a parked packet.
    rt_state: DFF<RetryState>,
    rt_buf: DFF<Bits<TAG_BITS>>,
    /// The retry lookup of `rt_buf` was preempted or withdrawn: issue it again.
    rt_redo: DFF<Bit>,
    retry_map_hit: DFF<Bit>,
    retry_map_page: DFF<Bits<PAGE_BITS>>,
    retry_map_writable: DFF<Bit>,
    retry_map_signal: DFF<Bit>,
    retry_map_slot: DFF<Bits<COUNTER_SLOT_BITS>>,
    /// The mapping's epoch is the parked packet's.
    retry_epoch_ok: DFF<Bit>,
    /// The parked packet ends within its page.
    retry_fits: DFF<Bit>,
    /// The link packet ends within its page (offset + length <= page size), registered from
    /// the header registers, which hold until its verdict: the add and compare were on the
    /// verdict's critical path.
    pkt_fits: DFF<Bit>,
    // Per miss buffer: state bits and the header of the parked packet.
    mbuf_busy: Vec<DFF<Bit>>,
    mbuf_waiting: Vec<DFF<Bit>>,
    mbuf_retry_req: Vec<DFF<Bit>>,
    mbuf_nva: Vec<DFF<Bits<WORD_BITS>>>,
    mbuf_len: Vec<DFF<Bits<PACKET_LENGTH_BITS>>>,
    mbuf_epoch: Vec<DFF<Bits<EPOCH_BITS>>>,
    nparked: DFF<Bits<PARKED_COUNT_BITS>>,
    // The ring job in the writer (a retried packet's job is described by the retry's
    // registers and its miss buffer).
    writing_nva: DFF<Bits<WORD_BITS>>,
    writing_len: DFF<Bits<PACKET_LENGTH_BITS>>,
    writing_slot: DFF<Bits<COUNTER_SLOT_BITS>>,
    writing_signal: DFF<Bit>,
    // Registered event outputs.
    ev_miss: DFF<Bit>,
    ev_miss_tag: DFF<Bits<TAG_BITS>>,
    ev_crc: DFF<Bit>,
    ev_protection: DFF<Bit>,
    ev_host_drop: DFF<Bit>,
    ev_miss_overflow: DFF<Bit>,
    ev_overrun: DFF<Bit>,
    /// `drop_malformed` pulses still to come.
    mal_pending: DFF<Bits<3>>,
    ev_delivered: DFF<Bit>,
    ev_delivered_slot: DFF<Bits<COUNTER_SLOT_BITS>>,
    ev_delivered_bytes: DFF<Bits<PACKET_LENGTH_BITS>>,
    ev_notify: DFF<Bit>,
    ev_notify_nva: DFF<Bits<WORD_BITS>>,
    // The verdict record of the trace, registered beside the drop events of the same decision
    // (all zero without a verdict, so an idle trace word is 0).
    tr_valid: DFF<Bit>,
    tr_link: DFF<Bit>,
    tr_code: DFF<Bits<VERDICT_CODE_BITS>>,
    tr_tag: DFF<Bits<TAG_BITS>>,
    /// The miss buffer of a host drop (with `ev_host_drop`; zero otherwise).
    tr_hdrop_tag: DFF<Bits<TAG_BITS>>,

    // Combinational helpers.
    in_recv: Signal<Local, Bit>,
    in_stray: Signal<Local, Bit>,
    rt_is_idle: Signal<Local, Bit>,
    rt_is_ready: Signal<Local, Bit>,
    rt_is_job: Signal<Local, Bit>,
    rt_is_write: Signal<Local, Bit>,
    alloc_any: Signal<Local, Bit>,
    alloc_buf: Signal<Local, Bits<TAG_BITS>>,
    take: Signal<Local, Bit>,
    take_miss: Signal<Local, Bit>,
    link_lk: Signal<Local, Bit>,
    rt_any: Signal<Local, Bit>,
    rt_pick: Signal<Local, Bits<TAG_BITS>>,
    rt_issue: Signal<Local, Bit>,
    /// A retry lookup may be issued in this cycle.
    rt_slot: Signal<Local, Bit>,
    /// The retry lookup due in this cycle is withdrawn (`lookup.hold`).
    retry_withdrawn: Signal<Local, Bit>,
    /// The header of the parked packet being retried.
    retry_nva: Signal<Local, Bits<WORD_BITS>>,
    retry_len: Signal<Local, Bits<PACKET_LENGTH_BITS>>,
    retry_epoch: Signal<Local, Bits<EPOCH_BITS>>,
    len_in: Signal<Local, Bits<PACKET_LENGTH_BITS>>,
    /// The header's epoch in a 32-bit word, for the trailer's epoch seed.
    epoch32: Signal<Local, Bits<32>>,
    exp_trailer: Signal<Local, Bits<WORD_BITS>>,
    /// Malformed drops of this cycle: a run cut by a start of packet or a stray run,
    mal_framing: Signal<Local, Bits<3>>,
    /// a one-word packet,
    mal_one_word: Signal<Local, Bits<3>>,
    /// a malformed verdict.
    mal_verdict: Signal<Local, Bits<3>>,
    st_ring: Signal<Local, Bit>,
    ovr_now: Signal<Local, Bit>,
    /// The link packet is dropped: its ring words or miss buffer are released.
    link_release: Signal<Local, Bit>,
    /// The retried packet is dropped at its verdict: its miss buffer is freed.
    retry_release: Signal<Local, Bit>,
    verdict_go: Signal<Local, Bit>,
    verdict_link: Signal<Local, Bit>,
    verdict_buf: Signal<Local, Bits<TAG_BITS>>,
    verdict_hit: Signal<Local, Bit>,
    verdict_epoch_ok: Signal<Local, Bit>,
    verdict_writable: Signal<Local, Bit>,
    verdict_fits: Signal<Local, Bit>,
    verdict_paddr: Signal<Local, Bits<32>>,
    park: Signal<Local, Bit>,
    rewait: Signal<Local, Bit>,
    /// The retried packet's last beat is written: its miss buffer is freed.
    rt_written: Signal<Local, Bit>,
    /// A parked packet's miss buffer is freed by its retry (written, or dropped at the retry).
    unpark: Signal<Local, Bit>,
    jq_push: Signal<Local, Bit>,
    /// The retried packet is accepted: its write job waits for the writer.
    retry_accepted: Signal<Local, Bit>,
    /// A resolve for a miss buffer that waits for one.
    resolve_hit: Signal<Local, Bit>,
    /// That resolve drops the packet.
    host_drop: Signal<Local, Bit>,
    /// `nparked` steps: +1 at a park verdict, -1 when a retry frees its buffer, -1 at a
    /// host drop.
    parked_inc: Signal<Local, Bits<4>>,
    parked_dec_retry: Signal<Local, Bits<4>>,
    parked_dec_host: Signal<Local, Bits<4>>,
    jq_any: Signal<Local, Bit>,
    jq_words: Signal<Local, Bits<RA>>,
    lw_pop: Signal<Local, Bit>,
    // The writer's job inputs, chosen here and driven once (see `LineWriter::read_addr`).
    job_base_sel: Signal<Local, Bits<RA>>,
    job_addr_sel: Signal<Local, Bits<32>>,
    job_len_sel: Signal<Local, Bits<PACKET_LENGTH_BITS>>,

    // Constants (from the spec and the parameters).
    c_crc_init: Constant<Bits<32>>,
    c_seed_base: Constant<Bits<32>>,
    c_len_lsb: Constant<Bits<8>>,
    c_epoch_lsb: Constant<Bits<8>>,
    c_page_shift: Constant<Bits<8>>,
    c_off_mask: Constant<Bits<32>>,
    c_page_size: Constant<Bits<14>>,
    c_max_payload: Constant<Bits<13>>,
    c_slot_shift: Constant<Bits<8>>,
    c_ring_words: Constant<Bits<RA>>,
    c_room_limit: Constant<Bits<RA>>,
    /// Signal bit of a job queue meta word.
    c_meta_sig: Constant<Bits<27>>,
    c_ring_mask: Constant<Bits<RA>>,
    /// The ring pointers run modulo twice the ring (one wrap bit), so their higher bits are
    /// constant zero and synthesis drops them.
    c_ptr_mask: Constant<Bits<RA>>,
    /// Miss buffer addresses stay below the RAM's depth rounded up to a power of two.
    c_addr_mask: Constant<Bits<RA>>,
    c_hdr_words: Constant<Bits<WIDX_BITS>>,
    c_wlim: Constant<Bits<WIDX_BITS>>,
    c_widx_max: Constant<Bits<WIDX_BITS>>,
    c_exp_extra: Constant<Bits<WIDX_BITS>>,
    // Trace: verdict codes and field positions (`spec::trace`).
    c_v_accepted: Constant<Bits<VERDICT_CODE_BITS>>,
    c_v_parked: Constant<Bits<VERDICT_CODE_BITS>>,
    c_v_rx_overrun: Constant<Bits<VERDICT_CODE_BITS>>,
    c_v_malformed: Constant<Bits<VERDICT_CODE_BITS>>,
    c_v_crc_epoch: Constant<Bits<VERDICT_CODE_BITS>>,
    c_v_miss_overflow: Constant<Bits<VERDICT_CODE_BITS>>,
    c_v_protection: Constant<Bits<VERDICT_CODE_BITS>>,
    c_tr_valid_lsb: Constant<Bits<8>>,
    c_tr_link_lsb: Constant<Bits<8>>,
    c_tr_code_lsb: Constant<Bits<8>>,
    c_tr_tag_lsb: Constant<Bits<8>>,
    c_tr_hdrop_lsb: Constant<Bits<8>>,
    c_tr_hdrop_tag_lsb: Constant<Bits<8>>,
    c_tr_written_lsb: Constant<Bits<8>>,
    /// Miss buffers.
    _n: usize,
}
