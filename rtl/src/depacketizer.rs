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
//!   while memory back-pressures (`wr_ready` low) or a retried packet takes the writer for long.
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
//!   For the lookup port's rules (preemption, `lookup_hold`) see Timing.
//! - The [`LineWriter`] takes ring jobs first, then the retried packet's job. Its `done` frees
//!   the packet's words (ring: the free pointer moves past them; miss buffer: the buffer) and
//!   raises `delivered_*` (and `notify_*` for mappings with `signal`). Ring words are freed
//!   strictly in packet order.
//!
//! # Framing rules (also those of [`split_link_units`])
//! A word with `rx_sop` starts a packet; if a packet was open it ends there as malformed (its
//! stored words are released). A word without `rx_sop` while no packet is open starts a stray
//! run, malformed, that ends at `rx_eop` or at the next `rx_sop`. A word with `rx_eop` ends the
//! open packet or run. A packet is well formed when its header length is `1..=max_payload` and
//! it has exactly `spec::packet::packet_words(length)` words.
//!
//! # Timing (cycle `s` = header word 0, `e` = end-of-packet word on the link)
//! - Lookup on the port in `s + 1`; result in `s + 3`, which picks the destination; payload word
//!   `k` (on the link in `s + 2 + k`) is stored in `s + 4 + k`, the last one in `e + 1`.
//! - The cache's lookup port: a lookup presented in the cycle right after another preempts it
//!   (the earlier one's result comes at its usual time with `result_valid` low), and
//!   `lookup_hold` asks requesters that can wait to present none.
//!   - Link lookups take the port whenever they come and ignore `lookup_hold`. Well-formed
//!     packets are at least 4 words, so link lookups are at least 4 cycles apart; a link
//!     lookup preempted by the next one (its packet cut by a start of packet in `s + 1`) has
//!     its result ignored anyway (the packet generation no longer matches).
//!   - A retry lookup is issued only in a cycle without a link lookup to issue, with no lookup
//!     presented in it (so a retry never preempts one) and `lookup_hold` low; it is withdrawn
//!     (`lookup_valid` stays low) if `lookup_hold` is high in the cycle it would be presented.
//!   - A retry preempted by a link lookup (a start of packet in the cycle it is presented) or
//!     withdrawn is issued again for the same miss buffer under the same rules: no event, no
//!     drop.
//! - Verdict in `e + 1`; event pulses (`miss_valid`, `drop_*`, including `drop_rx_overrun`)
//!   and the trace's verdict in `e + 2`.
//! - A write job is visible to the writer in `e + 3` (job queue latency), first beat in `e + 4`
//!   when the writer is idle; `delivered_*` the cycle after the last beat.
//! - Throughput: a packet of `w` payload words takes `w + 3` link cycles and at most `w + 1`
//!   writer beats, so with memory always ready the ring holds at most the packet being
//!   written plus the one arriving, and no packet is lost at line rate, parked misses or not.
//! - `drop_malformed` can have two sources in one cycle (a packet cut by a new start of packet
//!   that is itself a one-word packet); pending pulses are counted and come out one per cycle.

use crate::crc32::Crc32Step;
use crate::line_writer::LineWriter;
use crate::packet_ram::{PacketRam, PACKET_RAM_ADDR_BITS};
use crate::row_fifo::RowFifo;
use crate::spec::packet::{
    decode, epoch_seed, Header, CRC_INIT_STATE, EPOCH_SEED_BASE, H1_EPOCH, H1_LENGTH, HEADER_WORDS,
    TRAILER_WORDS,
};
use crate::spec::params::{CoreParams, PAGE_SHIFT, PAGE_SIZE};
use crate::spec::trace::{
    Verdict, HOST_DROP_TAG, HOST_DROP_VALID, RX_TRACE_BITS, VERDICT_CODE, VERDICT_LINK,
    VERDICT_TAG, VERDICT_VALID, WRITTEN,
};
use crate::spec::Field;
use rust_hdl::prelude::*;

/// Word index counter width (saturates; longer packets are malformed anyway).
const WIDX_BITS: usize = 12;
/// Width of miss buffer numbers and miss tags.
const TAG_BITS: usize = 4;
/// RAM addresses and ring pointers (the pointers run modulo 2^14, the ring is smaller).
const RA: usize = PACKET_RAM_ADDR_BITS;
/// Width of the `trace` output and of its verdict codes.
const TRACE_BITS: usize = RX_TRACE_BITS as usize;
const VERDICT_CODE_BITS: usize = 3;

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
    pub rx_valid: Signal<In, Bit>,
    pub rx_sop: Signal<In, Bit>,
    pub rx_eop: Signal<In, Bit>,
    pub rx_data: Signal<In, Bits<32>>,
    // RX cache lookup port.
    pub lookup_valid: Signal<Out, Bit>,
    pub lookup_key: Signal<Out, Bits<20>>,
    pub lookup_tag: Signal<Out, Bits<TAG_BITS>>,
    pub result_valid: Signal<In, Bit>,
    pub result_hit: Signal<In, Bit>,
    pub result_page: Signal<In, Bits<20>>,
    pub result_writable: Signal<In, Bit>,
    pub result_signal: Signal<In, Bit>,
    pub result_counter_slot: Signal<In, Bits<6>>,
    pub result_epoch: Signal<In, Bits<8>>,
    /// The cache asks requesters that can wait not to present lookups (an install waits for
    /// its read port): retries are held back, link lookups are not.
    pub lookup_hold: Signal<In, Bit>,
    // Misses.
    pub miss_valid: Signal<Out, Bit>,
    pub miss_tag: Signal<Out, Bits<TAG_BITS>>,
    /// The NVA page of the packet parked under `parked_tag` (combinational): the register
    /// file's miss records hold only the tag, and `MISS_POP` reads the page here.
    pub parked_tag: Signal<In, Bits<TAG_BITS>>,
    pub parked_page: Signal<Out, Bits<20>>,
    pub resolve_valid: Signal<In, Bit>,
    pub resolve_drop: Signal<In, Bit>,
    pub resolve_tag: Signal<In, Bits<TAG_BITS>>,
    // Memory write port.
    pub wr_valid: Signal<Out, Bit>,
    pub wr_addr: Signal<Out, Bits<32>>,
    pub wr_data: Signal<Out, Bits<32>>,
    pub wr_strb: Signal<Out, Bits<4>>,
    pub wr_last: Signal<Out, Bit>,
    pub wr_ready: Signal<In, Bit>,
    // Events.
    pub delivered_event: Signal<Out, Bit>,
    pub delivered_slot: Signal<Out, Bits<6>>,
    pub delivered_bytes: Signal<Out, Bits<13>>,
    pub drop_crc_epoch: Signal<Out, Bit>,
    pub drop_protection: Signal<Out, Bit>,
    pub drop_miss_dropped: Signal<Out, Bit>,
    pub drop_miss_overflow: Signal<Out, Bit>,
    pub drop_malformed: Signal<Out, Bit>,
    pub drop_rx_overrun: Signal<Out, Bit>,
    // Notifications.
    pub notify_valid: Signal<Out, Bit>,
    pub notify_nva: Signal<Out, Bits<32>>,
    pub notify_length: Signal<Out, Bits<13>>,
    /// Packets parked: counted from their park verdict until their miss buffer is freed
    /// (retried packet written, dropped at its retry, or dropped by the host).
    pub parked: Signal<Out, Bits<4>>,
    /// The receive trace (`spec::trace`): verdicts, host drops and writes, one pulse each.
    pub trace: Signal<Out, Bits<TRACE_BITS>>,

    // Sub-blocks.
    ram: PacketRam,
    lw: LineWriter,
    crc: Crc32Step,
    /// Job queue of ring packets.
    jq: JobQueue,
    /// The job queue head: physical byte address.
    jq_addr: Signal<Local, Bits<32>>,
    /// The job queue head: signal (bit 26), counter slot (25:20), NVA page (19:0).
    jq_meta: Signal<Local, Bits<27>>,
    /// The job queue head: length.
    jq_len: Signal<Local, Bits<13>>,
    /// The meta word of a job being pushed.
    jq_meta_in: Signal<Local, Bits<27>>,

    // Receive FSM.
    rx_state: DFF<RxState>,
    widx: DFF<Bits<WIDX_BITS>>,
    crc_q: DFF<Bits<32>>,
    gen: DFF<Bits<2>>,
    hdr_nva: DFF<Bits<32>>,
    hdr_len: DFF<Bits<13>>,
    hdr_epoch: DFF<Bits<8>>,
    len_ok: DFF<Bit>,
    exp_last: DFF<Bits<WIDX_BITS>>,
    // Payload store delay (two stages) and the destination of the packet being received.
    d1_en: DFF<Bit>,
    d1_data: DFF<Bits<32>>,
    d2_en: DFF<Bit>,
    d2_data: DFF<Bits<32>>,
    pk_ring: DFF<Bit>,
    pk_miss: DFF<Bit>,
    pk_mbuf: DFF<Bits<TAG_BITS>>,
    pk_start: DFF<Bits<RA>>,
    pk_ovr: DFF<Bit>,
    mptr: DFF<Bits<RA>>,
    // Ring pointers: write, read (next job's start), free (oldest unwritten word).
    r_wp: DFF<Bits<RA>>,
    r_rd: DFF<Bits<RA>>,
    r_fr: DFF<Bits<RA>>,
    // The ring has room for the next word. Registered (the pointer subtraction was the core's
    // critical path), so it is computed a cycle ahead and keeps one word spare for the word
    // that cycle may store: the ring holds at most ring_words - 1 words.
    r_room: DFF<Bit>,
    // Link lookup result of the packet being received.
    lr_hit: DFF<Bit>,
    lr_page: DFF<Bits<20>>,
    lr_writable: DFF<Bit>,
    lr_signal: DFF<Bit>,
    lr_slot: DFF<Bits<6>>,
    lr_epoch: DFF<Bits<8>>,
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
    v_valid: DFF<Bit>,
    v_mal: DFF<Bit>,
    v_crc_ok: DFF<Bit>,
    // Retry of a parked packet.
    rt_state: DFF<RetryState>,
    rt_buf: DFF<Bits<TAG_BITS>>,
    /// The retry lookup of `rt_buf` was preempted or withdrawn: issue it again.
    rt_redo: DFF<Bit>,
    rr_hit: DFF<Bit>,
    rr_page: DFF<Bits<20>>,
    rr_writable: DFF<Bit>,
    rr_signal: DFF<Bit>,
    rr_slot: DFF<Bits<6>>,
    /// The mapping's epoch is the parked packet's.
    rr_ep_ok: DFF<Bit>,
    /// The parked packet ends within its page.
    rr_fits: DFF<Bit>,
    /// The link packet ends within its page (offset + length <= page size), registered from
    /// the header registers, which hold until its verdict: the add and compare were on the
    /// verdict's critical path.
    pk_fits: DFF<Bit>,
    // Per miss buffer: state bits and the header of the parked packet.
    mbusy: Vec<DFF<Bit>>,
    waiting: Vec<DFF<Bit>>,
    rreq: Vec<DFF<Bit>>,
    m_nva: Vec<DFF<Bits<32>>>,
    m_len: Vec<DFF<Bits<13>>>,
    m_epoch: Vec<DFF<Bits<8>>>,
    nparked: DFF<Bits<4>>,
    // The ring job in the writer (a retried packet's job is described by the retry's
    // registers and its miss buffer).
    wj_nva: DFF<Bits<32>>,
    wj_len: DFF<Bits<13>>,
    wj_slot: DFF<Bits<6>>,
    wj_sig: DFF<Bit>,
    // Registered event outputs.
    ev_miss: DFF<Bit>,
    ev_miss_tag: DFF<Bits<TAG_BITS>>,
    ev_crc: DFF<Bit>,
    ev_prot: DFF<Bit>,
    ev_mdrop: DFF<Bit>,
    ev_ovf: DFF<Bit>,
    ev_ovr: DFF<Bit>,
    mal_cnt: DFF<Bits<3>>,
    ev_del: DFF<Bit>,
    ev_del_slot: DFF<Bits<6>>,
    ev_del_bytes: DFF<Bits<13>>,
    ev_nt: DFF<Bit>,
    ev_nt_nva: DFF<Bits<32>>,
    // The verdict record of the trace, registered beside the drop events of the same decision
    // (all zero without a verdict, so an idle trace word is 0).
    tr_valid: DFF<Bit>,
    tr_link: DFF<Bit>,
    tr_code: DFF<Bits<VERDICT_CODE_BITS>>,
    tr_tag: DFF<Bits<TAG_BITS>>,
    /// The miss buffer of a host drop (with `ev_mdrop`; zero otherwise).
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
    /// The retry lookup due in this cycle is withdrawn (`lookup_hold`).
    rt_wd: Signal<Local, Bit>,
    /// The header of the parked packet being retried.
    rb_nva: Signal<Local, Bits<32>>,
    rb_len: Signal<Local, Bits<13>>,
    rb_epoch: Signal<Local, Bits<8>>,
    len_in: Signal<Local, Bits<13>>,
    ep32: Signal<Local, Bits<32>>,
    exp_trailer: Signal<Local, Bits<32>>,
    mal_a: Signal<Local, Bits<3>>,
    mal_b: Signal<Local, Bits<3>>,
    mal_c: Signal<Local, Bits<3>>,
    st_ring: Signal<Local, Bit>,
    ovr_now: Signal<Local, Bit>,
    lrel: Signal<Local, Bit>,
    rrel: Signal<Local, Bit>,
    op_go: Signal<Local, Bit>,
    op_link: Signal<Local, Bit>,
    op_buf: Signal<Local, Bits<TAG_BITS>>,
    op_hit: Signal<Local, Bit>,
    op_ep_ok: Signal<Local, Bit>,
    op_wr: Signal<Local, Bit>,
    op_fits: Signal<Local, Bit>,
    op_paddr: Signal<Local, Bits<32>>,
    park: Signal<Local, Bit>,
    rewait: Signal<Local, Bit>,
    /// The retried packet's last beat is written: its miss buffer is freed.
    rt_written: Signal<Local, Bit>,
    /// A parked packet's miss buffer is freed by its retry (written, or dropped at the retry).
    unpark: Signal<Local, Bit>,
    jq_push: Signal<Local, Bit>,
    mj_set: Signal<Local, Bit>,
    res_hit: Signal<Local, Bit>,
    rdrop: Signal<Local, Bit>,
    np_inc: Signal<Local, Bits<4>>,
    np_dec1: Signal<Local, Bits<4>>,
    np_dec2: Signal<Local, Bits<4>>,
    jq_any: Signal<Local, Bit>,
    jq_words: Signal<Local, Bits<RA>>,
    lw_pop: Signal<Local, Bit>,
    // The writer's job inputs, chosen here and driven once (see `LineWriter::read_addr`).
    job_base_sel: Signal<Local, Bits<RA>>,
    job_addr_sel: Signal<Local, Bits<32>>,
    job_len_sel: Signal<Local, Bits<13>>,

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

fn dffs<T: Synth>(n: usize) -> Vec<DFF<T>> {
    (0..n).map(|_| DFF::default()).collect()
}

fn verdict_code(v: Verdict) -> Constant<Bits<VERDICT_CODE_BITS>> {
    Constant::new((v.code() as u64).into())
}

fn field_lsb(f: Field) -> Constant<Bits<8>> {
    Constant::new((f.lsb as u64).into())
}

impl Depacketizer {
    pub fn new(params: &CoreParams) -> Self {
        params.validate().expect("valid parameters");
        let n = params.miss_buffer_packets as usize;
        assert!(n <= 1 << TAG_BITS);
        assert!(params.rx_buffer_words() <= 1 << RA);
        assert_eq!(H1_LENGTH.width, 13);
        assert_eq!(H1_EPOCH.width, 8);
        assert_eq!(VERDICT_CODE.width as usize, VERDICT_CODE_BITS);
        assert_eq!(VERDICT_TAG.width as usize, TAG_BITS);
        assert_eq!(HOST_DROP_TAG.width as usize, TAG_BITS);
        let stride = 1u64 << params.rx_slot_shift();
        let hdr = HEADER_WORDS as u64;
        let ring = params.rx_ring_words() as u64;
        assert!(ring.is_power_of_two());
        Depacketizer {
            clock: Default::default(),
            rx_valid: Default::default(),
            rx_sop: Default::default(),
            rx_eop: Default::default(),
            rx_data: Default::default(),
            lookup_valid: Default::default(),
            lookup_key: Default::default(),
            lookup_tag: Default::default(),
            result_valid: Default::default(),
            result_hit: Default::default(),
            result_page: Default::default(),
            result_writable: Default::default(),
            result_signal: Default::default(),
            result_counter_slot: Default::default(),
            result_epoch: Default::default(),
            lookup_hold: Default::default(),
            miss_valid: Default::default(),
            miss_tag: Default::default(),
            parked_tag: Default::default(),
            parked_page: Default::default(),
            resolve_valid: Default::default(),
            resolve_drop: Default::default(),
            resolve_tag: Default::default(),
            wr_valid: Default::default(),
            wr_addr: Default::default(),
            wr_data: Default::default(),
            wr_strb: Default::default(),
            wr_last: Default::default(),
            wr_ready: Default::default(),
            delivered_event: Default::default(),
            delivered_slot: Default::default(),
            delivered_bytes: Default::default(),
            drop_crc_epoch: Default::default(),
            drop_protection: Default::default(),
            drop_miss_dropped: Default::default(),
            drop_miss_overflow: Default::default(),
            drop_malformed: Default::default(),
            drop_rx_overrun: Default::default(),
            notify_valid: Default::default(),
            notify_nva: Default::default(),
            notify_length: Default::default(),
            parked: Default::default(),
            trace: Default::default(),
            crc: Default::default(),
            jq: RowFifo::new(JOB_ROWS),
            jq_addr: Default::default(),
            jq_meta: Default::default(),
            jq_len: Default::default(),
            jq_meta_in: Default::default(),
            rx_state: Default::default(),
            widx: Default::default(),
            crc_q: Default::default(),
            gen: Default::default(),
            hdr_nva: Default::default(),
            hdr_len: Default::default(),
            hdr_epoch: Default::default(),
            len_ok: Default::default(),
            exp_last: Default::default(),
            d1_en: Default::default(),
            d1_data: Default::default(),
            d2_en: Default::default(),
            d2_data: Default::default(),
            pk_ring: Default::default(),
            pk_miss: Default::default(),
            pk_mbuf: Default::default(),
            pk_start: Default::default(),
            pk_ovr: Default::default(),
            mptr: Default::default(),
            r_wp: Default::default(),
            r_rd: Default::default(),
            r_fr: Default::default(),
            lr_hit: Default::default(),
            lr_page: Default::default(),
            lr_writable: Default::default(),
            lr_signal: Default::default(),
            lr_slot: Default::default(),
            lr_epoch: Default::default(),
            lk_valid: Default::default(),
            lk_link: Default::default(),
            lk_gen: Default::default(),
            p1_link: Default::default(),
            p1_retry: Default::default(),
            p1_gen: Default::default(),
            p2_link: Default::default(),
            p2_retry: Default::default(),
            p2_gen: Default::default(),
            v_valid: Default::default(),
            v_mal: Default::default(),
            v_crc_ok: Default::default(),
            rt_state: Default::default(),
            rt_buf: Default::default(),
            rt_redo: Default::default(),
            rr_hit: Default::default(),
            rr_page: Default::default(),
            rr_writable: Default::default(),
            rr_signal: Default::default(),
            rr_slot: Default::default(),
            rr_ep_ok: Default::default(),
            rr_fits: Default::default(),
            pk_fits: Default::default(),
            nparked: Default::default(),
            wj_nva: Default::default(),
            wj_len: Default::default(),
            wj_slot: Default::default(),
            wj_sig: Default::default(),
            ev_miss: Default::default(),
            ev_miss_tag: Default::default(),
            ev_crc: Default::default(),
            ev_prot: Default::default(),
            ev_mdrop: Default::default(),
            ev_ovf: Default::default(),
            ev_ovr: Default::default(),
            mal_cnt: Default::default(),
            ev_del: Default::default(),
            ev_del_slot: Default::default(),
            ev_del_bytes: Default::default(),
            ev_nt: Default::default(),
            ev_nt_nva: Default::default(),
            tr_valid: Default::default(),
            tr_link: Default::default(),
            tr_code: Default::default(),
            tr_tag: Default::default(),
            tr_hdrop_tag: Default::default(),
            in_recv: Default::default(),
            in_stray: Default::default(),
            rt_is_idle: Default::default(),
            rt_is_ready: Default::default(),
            rt_is_job: Default::default(),
            rt_is_write: Default::default(),
            alloc_any: Default::default(),
            alloc_buf: Default::default(),
            take: Default::default(),
            take_miss: Default::default(),
            link_lk: Default::default(),
            rt_any: Default::default(),
            rt_pick: Default::default(),
            rt_issue: Default::default(),
            rt_slot: Default::default(),
            rt_wd: Default::default(),
            rb_nva: Default::default(),
            rb_len: Default::default(),
            rb_epoch: Default::default(),
            len_in: Default::default(),
            ep32: Default::default(),
            exp_trailer: Default::default(),
            mal_a: Default::default(),
            mal_b: Default::default(),
            mal_c: Default::default(),
            st_ring: Default::default(),
            r_room: Default::default(),
            ovr_now: Default::default(),
            lrel: Default::default(),
            rrel: Default::default(),
            op_go: Default::default(),
            op_link: Default::default(),
            op_buf: Default::default(),
            op_hit: Default::default(),
            op_ep_ok: Default::default(),
            op_wr: Default::default(),
            op_fits: Default::default(),
            op_paddr: Default::default(),
            park: Default::default(),
            rewait: Default::default(),
            rt_written: Default::default(),
            unpark: Default::default(),
            jq_push: Default::default(),
            mj_set: Default::default(),
            res_hit: Default::default(),
            rdrop: Default::default(),
            np_inc: Default::default(),
            np_dec1: Default::default(),
            np_dec2: Default::default(),
            jq_any: Default::default(),
            jq_words: Default::default(),
            lw_pop: Default::default(),
            job_base_sel: Default::default(),
            job_addr_sel: Default::default(),
            job_len_sel: Default::default(),
            ram: PacketRam::without_collisions(params.rx_buffer_words() as usize).in_range_reads(),
            lw: LineWriter::new(params),
            mbusy: dffs(n),
            waiting: dffs(n),
            rreq: dffs(n),
            m_nva: dffs(n),
            m_len: dffs(n),
            m_epoch: dffs(n),
            c_crc_init: Constant::new((CRC_INIT_STATE as u64).into()),
            c_seed_base: Constant::new((EPOCH_SEED_BASE as u64).into()),
            c_len_lsb: Constant::new((H1_LENGTH.lsb as u64).into()),
            c_epoch_lsb: Constant::new((H1_EPOCH.lsb as u64).into()),
            c_page_shift: Constant::new((PAGE_SHIFT as u64).into()),
            c_off_mask: Constant::new(((PAGE_SIZE - 1) as u64).into()),
            c_page_size: Constant::new((PAGE_SIZE as u64).into()),
            c_max_payload: Constant::new((params.max_payload as u64).into()),
            c_slot_shift: Constant::new((params.rx_slot_shift() as u64).into()),
            c_ring_words: Constant::new(ring.into()),
            c_room_limit: Constant::new((ring - 1).into()),
            c_meta_sig: Constant::new((1u64 << 26).into()),
            c_ring_mask: Constant::new((ring - 1).into()),
            c_ptr_mask: Constant::new((2 * ring - 1).into()),
            c_addr_mask: Constant::new(
                ((params.rx_buffer_words() as u64).next_power_of_two() - 1).into(),
            ),
            c_hdr_words: Constant::new(hdr.into()),
            c_wlim: Constant::new((hdr + stride).into()),
            c_widx_max: Constant::new(((1u64 << WIDX_BITS) - 1).into()),
            c_exp_extra: Constant::new((hdr + TRAILER_WORDS as u64 - 1).into()),
            c_v_accepted: verdict_code(Verdict::Accepted),
            c_v_parked: verdict_code(Verdict::Parked),
            c_v_rx_overrun: verdict_code(Verdict::RxOverrun),
            c_v_malformed: verdict_code(Verdict::Malformed),
            c_v_crc_epoch: verdict_code(Verdict::CrcEpoch),
            c_v_miss_overflow: verdict_code(Verdict::MissOverflow),
            c_v_protection: verdict_code(Verdict::Protection),
            c_tr_valid_lsb: field_lsb(VERDICT_VALID),
            c_tr_link_lsb: field_lsb(VERDICT_LINK),
            c_tr_code_lsb: field_lsb(VERDICT_CODE),
            c_tr_tag_lsb: field_lsb(VERDICT_TAG),
            c_tr_hdrop_lsb: field_lsb(HOST_DROP_VALID),
            c_tr_hdrop_tag_lsb: field_lsb(HOST_DROP_TAG),
            c_tr_written_lsb: field_lsb(WRITTEN),
            _n: n,
        }
    }
}

impl Logic for Depacketizer {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            rx_state,
            widx,
            crc_q,
            gen,
            hdr_nva,
            hdr_len,
            hdr_epoch,
            len_ok,
            exp_last,
            d1_en,
            d1_data,
            d2_en,
            d2_data,
            pk_ring,
            pk_miss,
            pk_mbuf,
            pk_start,
            pk_ovr,
            mptr,
            r_wp,
            r_rd,
            r_fr,
            r_room,
            lr_hit,
            lr_page,
            lr_writable,
            lr_signal,
            lr_slot,
            lr_epoch,
            lk_valid,
            lk_link,
            lk_gen,
            p1_link,
            p1_retry,
            p1_gen,
            p2_link,
            p2_retry,
            p2_gen,
            v_valid,
            v_mal,
            v_crc_ok,
            rt_state,
            rt_buf,
            rt_redo,
            rr_hit,
            rr_page,
            rr_writable,
            rr_signal,
            rr_slot,
            rr_ep_ok,
            rr_fits,
            pk_fits,
            nparked,
            wj_nva,
            wj_len,
            wj_slot,
            wj_sig,
            ev_miss,
            ev_miss_tag,
            ev_crc,
            ev_prot,
            ev_mdrop,
            ev_ovf,
            ev_ovr,
            mal_cnt,
            ev_del,
            ev_del_slot,
            ev_del_bytes,
            ev_nt,
            ev_nt_nva,
            tr_valid,
            tr_link,
            tr_code,
            tr_tag,
            tr_hdrop_tag
        );
        clock!(self, clock, ram, lw, jq);
        // Pulses are low unless set below.
        self.lk_valid.d.next = false;
        self.v_valid.d.next = false;
        self.d1_en.d.next = false;
        self.ev_miss.d.next = false;
        self.ev_crc.d.next = false;
        self.ev_prot.d.next = false;
        self.ev_mdrop.d.next = false;
        self.ev_ovf.d.next = false;
        self.ev_ovr.d.next = false;
        self.ev_del.d.next = false;
        self.ev_nt.d.next = false;
        self.tr_valid.d.next = false;
        self.tr_link.d.next = false;
        self.tr_code.d.next = 0.into();
        self.tr_tag.d.next = 0.into();
        self.tr_hdrop_tag.d.next = 0.into();

        self.in_recv.next = false;
        self.in_stray.next = false;
        match self.rx_state.q.val() {
            RxState::Recv => {
                self.in_recv.next = true;
            }
            RxState::Stray => {
                self.in_stray.next = true;
            }
            _ => {}
        }
        self.rt_is_idle.next = false;
        self.rt_is_ready.next = false;
        self.rt_is_job.next = false;
        self.rt_is_write.next = false;
        match self.rt_state.q.val() {
            RetryState::Idle => {
                self.rt_is_idle.next = true;
            }
            RetryState::Ready => {
                self.rt_is_ready.next = true;
            }
            RetryState::Job => {
                self.rt_is_job.next = true;
            }
            RetryState::Write => {
                self.rt_is_write.next = true;
            }
            _ => {}
        }

        // ---- A free miss buffer for the next miss, a parked packet to retry.
        self.alloc_any.next = false;
        self.alloc_buf.next = 0.into();
        self.rt_any.next = false;
        self.rt_pick.next = 0.into();
        for i in 0..self._n {
            if !self.mbusy[i].q.val() {
                self.alloc_any.next = true;
                self.alloc_buf.next = i.to_bits();
            }
            if self.rreq[i].q.val() {
                self.rt_any.next = true;
                self.rt_pick.next = i.to_bits();
            }
        }
        // The header of a parked packet stays in its miss buffer's registers until the buffer
        // is freed, so the retry reads it there.
        self.rb_nva.next = 0.into();
        self.rb_len.next = 0.into();
        self.rb_epoch.next = 0.into();
        self.parked_page.next = 0.into();
        for i in 0..self._n {
            if self.rt_buf.q.val() == i.to_bits() {
                self.rb_nva.next = self.m_nva[i].q.val();
                self.rb_len.next = self.m_len[i].q.val();
                self.rb_epoch.next = self.m_epoch[i].q.val();
            }
            if self.parked_tag.val() == i.to_bits() {
                self.parked_page.next = self.m_nva[i]
                    .q
                    .val()
                    .get_bits::<20>(self.c_page_shift.val().index());
            }
        }

        // ---- Receive FSM.
        self.crc.data.next = self.rx_data.val();
        self.crc.crc_in.next = self.crc_q.q.val();
        if self.rx_sop.val() {
            self.crc.crc_in.next = self.c_crc_init.val();
        }
        self.len_in.next = self
            .rx_data
            .val()
            .get_bits::<13>(self.c_len_lsb.val().index());
        self.ep32.next = bit_cast::<32, 8>(self.hdr_epoch.q.val());
        self.exp_trailer.next = !self.crc_q.q.val()
            ^ self.c_seed_base.val()
            ^ self.ep32.val()
            ^ (self.ep32.val() << 8)
            ^ (self.ep32.val() << 16)
            ^ (self.ep32.val() << 24);
        self.lrel.next = false;
        self.link_lk.next = false;
        self.mal_a.next = 0.into();
        self.mal_b.next = 0.into();
        self.d1_data.d.next = self.rx_data.val();
        if self.rx_valid.val() {
            if self.rx_sop.val() {
                // An open packet or stray run ends here, malformed; its words are released.
                if self.in_recv.val() | self.in_stray.val() {
                    self.mal_a.next = 1.into();
                }
                if self.in_recv.val() {
                    self.lrel.next = true;
                }
                if self.rx_eop.val() {
                    // One-word packet.
                    self.mal_b.next = 1.into();
                    self.rx_state.d.next = RxState::Idle;
                } else {
                    self.rx_state.d.next = RxState::Recv;
                    self.widx.d.next = 1.into();
                    self.crc_q.d.next = self.crc.crc_out.val();
                    self.gen.d.next = self.gen.q.val() + 1;
                    self.len_ok.d.next = false;
                    self.hdr_nva.d.next = self.rx_data.val();
                    self.link_lk.next = true;
                }
            } else {
                match self.rx_state.q.val() {
                    RxState::Idle => {
                        if self.rx_eop.val() {
                            self.mal_a.next = 1.into();
                        } else {
                            self.rx_state.d.next = RxState::Stray;
                        }
                    }
                    RxState::Stray => {
                        if self.rx_eop.val() {
                            self.mal_a.next = 1.into();
                            self.rx_state.d.next = RxState::Idle;
                        }
                    }
                    RxState::Recv => {
                        self.crc_q.d.next = self.crc.crc_out.val();
                        if self.widx.q.val() != self.c_widx_max.val() {
                            self.widx.d.next = self.widx.q.val() + 1;
                        }
                        if self.widx.q.val() == 1 {
                            self.hdr_len.d.next = self.len_in.val();
                            self.hdr_epoch.d.next = self
                                .rx_data
                                .val()
                                .get_bits::<8>(self.c_epoch_lsb.val().index());
                            self.len_ok.d.next = (self.len_in.val() != 0)
                                & (self.len_in.val() <= self.c_max_payload.val());
                            self.exp_last.d.next =
                                bit_cast::<WIDX_BITS, 13>((self.len_in.val() + 3) >> 2)
                                    + self.c_exp_extra.val();
                        }
                        // Payload words (not the trailer) up to the stride.
                        if (self.widx.q.val() >= self.c_hdr_words.val())
                            & (self.widx.q.val() < self.c_wlim.val())
                            & !self.rx_eop.val()
                        {
                            self.d1_en.d.next = true;
                        }
                        if self.rx_eop.val() {
                            self.v_valid.d.next = true;
                            self.v_mal.d.next = !(self.len_ok.q.val()
                                & (self.widx.q.val() == self.exp_last.q.val()));
                            self.v_crc_ok.d.next = self.exp_trailer.val() == self.rx_data.val();
                            self.rx_state.d.next = RxState::Idle;
                        }
                    }
                }
            }
        }

        // ---- Lookup port: the link first, then a retry. A retry never follows a lookup
        // presented in this cycle (it would preempt it) and waits while `lookup_hold` is high;
        // one that finds `lookup_hold` high in its own cycle is withdrawn. A preempted or
        // withdrawn retry is issued again for the same buffer (`rt_redo`).
        self.rt_issue.next = false;
        self.rt_slot.next = !self.lk_valid.q.val() & !self.lookup_hold.val();
        self.rt_wd.next = self.lk_valid.q.val() & !self.lk_link.q.val() & self.lookup_hold.val();
        if self.link_lk.val() {
            self.lk_valid.d.next = true;
            self.lk_link.d.next = true;
            self.lk_gen.d.next = self.gen.q.val() + 1;
        } else if self.rt_slot.val() & self.rt_redo.q.val() {
            self.lk_valid.d.next = true;
            self.lk_link.d.next = false;
            self.rt_redo.d.next = false;
        } else if self.rt_slot.val() & self.rt_any.val() & self.rt_is_idle.val() {
            self.rt_issue.next = true;
            self.lk_valid.d.next = true;
            self.lk_link.d.next = false;
            self.rt_buf.d.next = self.rt_pick.val();
            self.rt_state.d.next = RetryState::Wait;
        }
        if self.rt_wd.val() {
            self.rt_redo.d.next = true;
        }
        self.lookup_valid.next = self.lk_valid.q.val() & !self.rt_wd.val();
        // The key is in the header register (link) or the miss buffer (retry) while
        // `lookup_valid` is high.
        self.lookup_key.next = self
            .hdr_nva
            .q
            .val()
            .get_bits::<20>(self.c_page_shift.val().index());
        self.lookup_tag.next = 0.into();
        if !self.lk_link.q.val() {
            self.lookup_key.next = self
                .rb_nva
                .val()
                .get_bits::<20>(self.c_page_shift.val().index());
            self.lookup_tag.next = self.rt_buf.q.val();
        }
        self.p1_link.d.next = self.lk_valid.q.val() & self.lk_link.q.val();
        self.p1_retry.d.next = self.lk_valid.q.val() & !self.lk_link.q.val() & !self.rt_wd.val();
        self.p1_gen.d.next = self.lk_gen.q.val();
        self.p2_link.d.next = self.p1_link.q.val();
        self.p2_retry.d.next = self.p1_retry.q.val();
        self.p2_gen.d.next = self.p1_gen.q.val();
        // The link result of the packet being received chooses where its payload goes (not if
        // a start of packet cuts it in this very cycle).
        self.take.next = self.p2_link.q.val()
            & (self.p2_gen.q.val() == self.gen.q.val())
            & self.in_recv.val()
            & !(self.rx_valid.val() & self.rx_sop.val());
        self.take_miss.next = false;
        if self.take.val() {
            self.lr_hit.d.next = self.result_valid.val() & self.result_hit.val();
            self.lr_page.d.next = self.result_page.val();
            self.lr_writable.d.next = self.result_writable.val();
            self.lr_signal.d.next = self.result_signal.val();
            self.lr_slot.d.next = self.result_counter_slot.val();
            self.lr_epoch.d.next = self.result_epoch.val();
            if self.result_valid.val() & self.result_hit.val() {
                self.pk_ring.d.next = true;
                self.pk_start.d.next = self.r_wp.q.val();
            } else if self.alloc_any.val() {
                self.take_miss.next = true;
                self.pk_miss.d.next = true;
                self.pk_mbuf.d.next = self.alloc_buf.val();
                self.mptr.d.next = self.c_ring_words.val()
                    + (bit_cast::<RA, TAG_BITS>(self.alloc_buf.val()) << self.c_slot_shift.val());
            }
        }
        if self.p2_retry.q.val() & !self.result_valid.val() {
            // Preempted by a link lookup in the cycle after it: look up again.
            self.rt_redo.d.next = true;
        } else if self.p2_retry.q.val() {
            self.rr_hit.d.next = self.result_hit.val();
            self.rr_page.d.next = self.result_page.val();
            self.rr_writable.d.next = self.result_writable.val();
            self.rr_signal.d.next = self.result_signal.val();
            self.rr_slot.d.next = self.result_counter_slot.val();
            self.rr_ep_ok.d.next = self.result_epoch.val() == self.rb_epoch.val();
            self.rr_fits.d.next = (bit_cast::<14, 32>(self.rb_nva.val() & self.c_off_mask.val())
                + bit_cast::<14, 13>(self.rb_len.val()))
                <= self.c_page_size.val();
            self.rt_state.d.next = RetryState::Ready;
        }

        // ---- Payload stores, two cycles behind the link.
        self.d2_en.d.next = self.d1_en.q.val();
        self.d2_data.d.next = self.d1_data.q.val();
        self.r_room.d.next = ((self.r_wp.q.val() - self.r_fr.q.val()) & self.c_ptr_mask.val())
            < self.c_room_limit.val();
        self.st_ring.next = self.d2_en.q.val() & self.pk_ring.q.val();
        self.ram.write_enable.next = false;
        self.ram.write_address.next = self.r_wp.q.val() & self.c_ring_mask.val();
        self.ram.write_data.next = self.d2_data.q.val();
        if self.st_ring.val() {
            if self.r_room.q.val() {
                self.ram.write_enable.next = true;
                self.r_wp.d.next = (self.r_wp.q.val() + 1) & self.c_ptr_mask.val();
            } else {
                self.pk_ovr.d.next = true;
            }
        }
        if self.d2_en.q.val() & self.pk_miss.q.val() {
            self.ram.write_enable.next = true;
            self.ram.write_address.next = self.mptr.q.val();
            self.mptr.d.next = (self.mptr.q.val() + 1) & self.c_addr_mask.val();
        }
        self.ovr_now.next = self.pk_ovr.q.val() | (self.st_ring.val() & !self.r_room.q.val());
        // A new packet has no destination until its lookup result.
        if self.rx_valid.val() & self.rx_sop.val() {
            self.pk_ring.d.next = false;
            self.pk_miss.d.next = false;
            self.pk_ovr.d.next = false;
            self.lr_hit.d.next = false;
        }

        // ---- Verdict stage: a finished link packet, else a retried parked packet.
        self.op_go.next = false;
        self.op_link.next = false;
        self.op_buf.next = self.pk_mbuf.q.val();
        self.op_hit.next = self.lr_hit.q.val();
        self.op_ep_ok.next = self.hdr_epoch.q.val() == self.lr_epoch.q.val();
        self.op_wr.next = self.lr_writable.q.val();
        self.op_fits.next = self.pk_fits.q.val();
        if self.v_valid.q.val() {
            self.op_go.next = true;
            self.op_link.next = true;
        } else if self.rt_is_ready.val() {
            self.op_go.next = true;
            self.op_buf.next = self.rt_buf.q.val();
            self.op_hit.next = self.rr_hit.q.val();
            self.op_ep_ok.next = self.rr_ep_ok.q.val();
            self.op_wr.next = self.rr_writable.q.val();
            self.op_fits.next = self.rr_fits.q.val();
            self.rt_state.d.next = RetryState::Idle;
        }
        self.pk_fits.d.next = (bit_cast::<14, 32>(self.hdr_nva.q.val() & self.c_off_mask.val())
            + bit_cast::<14, 13>(self.hdr_len.q.val()))
            <= self.c_page_size.val();
        // Physical address of a link packet's write job.
        self.op_paddr.next = (bit_cast::<32, 20>(self.lr_page.q.val()) << self.c_page_shift.val())
            | (self.hdr_nva.q.val() & self.c_off_mask.val());
        self.rrel.next = false;
        self.park.next = false;
        self.rewait.next = false;
        self.mj_set.next = false;
        self.jq_push.next = false;
        self.mal_c.next = 0.into();
        self.ev_miss_tag.d.next = self.op_buf.val();
        if self.op_go.val() {
            // The trace's verdict record: one per link packet (in link order) and per retry.
            self.tr_valid.d.next = true;
            self.tr_link.d.next = self.op_link.val();
            self.tr_tag.d.next = self.op_buf.val();
            if self.op_link.val() & self.pk_ring.q.val() & (self.ovr_now.val() | self.jq.full.val())
            {
                self.ev_ovr.d.next = true;
                self.tr_code.d.next = self.c_v_rx_overrun.val();
                self.lrel.next = true;
            } else if self.op_link.val() & self.v_mal.q.val() {
                self.mal_c.next = 1.into();
                self.tr_code.d.next = self.c_v_malformed.val();
                self.lrel.next = true;
            } else if self.op_link.val() & !self.v_crc_ok.q.val() {
                self.ev_crc.d.next = true;
                self.tr_code.d.next = self.c_v_crc_epoch.val();
                self.lrel.next = true;
            } else if !self.op_hit.val() {
                if self.op_link.val() {
                    if self.pk_miss.q.val() {
                        self.park.next = true;
                        self.ev_miss.d.next = true;
                        self.tr_code.d.next = self.c_v_parked.val();
                    } else {
                        self.ev_ovf.d.next = true;
                        self.tr_code.d.next = self.c_v_miss_overflow.val();
                    }
                } else {
                    // Still missing: post the miss again, stay parked.
                    self.rewait.next = true;
                    self.ev_miss.d.next = true;
                    self.tr_code.d.next = self.c_v_parked.val();
                }
            } else if !self.op_ep_ok.val() {
                self.ev_crc.d.next = true;
                self.tr_code.d.next = self.c_v_crc_epoch.val();
                if self.op_link.val() {
                    self.lrel.next = true;
                } else {
                    self.rrel.next = true;
                }
            } else if !self.op_wr.val() | !self.op_fits.val() {
                self.ev_prot.d.next = true;
                self.tr_code.d.next = self.c_v_protection.val();
                if self.op_link.val() {
                    self.lrel.next = true;
                } else {
                    self.rrel.next = true;
                }
            } else if self.op_link.val() {
                self.jq_push.next = true;
                self.tr_code.d.next = self.c_v_accepted.val();
            } else {
                self.mj_set.next = true;
                self.tr_code.d.next = self.c_v_accepted.val();
            }
        }
        // Releasing the link packet's words: a ring packet is the newest in the ring.
        if self.lrel.val() & self.pk_ring.q.val() {
            self.r_wp.d.next = self.pk_start.q.val();
        }
        // A parked packet stays counted in `parked` until its miss buffer is freed, through its
        // retry's write: a reader that finds a newer message of a writer complete while an
        // older one is missing reads STATUS, and rx_parked 0 tells it the older one will
        // never come, which holds only if a retried packet counts until it is in memory.
        self.rt_written.next = self.lw.done.val() & self.rt_is_write.val();
        self.unpark.next = self.rrel.val() | self.rt_written.val();
        if self.mj_set.val() {
            self.rt_state.d.next = RetryState::Job;
        }
        self.jq.write.next = self.jq_push.val();
        // A link packet's write job.
        self.jq_meta_in.next = (bit_cast::<27, 6>(self.lr_slot.q.val()) << 20)
            | bit_cast::<27, 20>(
                self.hdr_nva
                    .q
                    .val()
                    .get_bits::<20>(self.c_page_shift.val().index()),
            );
        if self.lr_signal.q.val() {
            self.jq_meta_in.next = (bit_cast::<27, 6>(self.lr_slot.q.val()) << 20)
                | bit_cast::<27, 20>(
                    self.hdr_nva
                        .q
                        .val()
                        .get_bits::<20>(self.c_page_shift.val().index()),
                )
                | self.c_meta_sig.val();
        }
        self.jq.data_in.next = (bit_cast::<JOB_BITS, 13>(self.hdr_len.q.val()) << 59)
            | (bit_cast::<JOB_BITS, 27>(self.jq_meta_in.val()) << 32)
            | bit_cast::<JOB_BITS, 32>(self.op_paddr.val());

        // ---- Resolves from the host (ignored unless the tag waits for one).
        self.res_hit.next = false;
        for i in 0..self._n {
            if self.resolve_valid.val()
                & (self.resolve_tag.val() == i.to_bits())
                & self.waiting[i].q.val()
            {
                self.res_hit.next = true;
            }
        }
        self.rdrop.next = self.res_hit.val() & self.resolve_drop.val();
        self.ev_mdrop.d.next = self.rdrop.val();
        if self.rdrop.val() {
            self.tr_hdrop_tag.d.next = self.resolve_tag.val();
        }

        // ---- Per miss buffer state and metadata.
        for i in 0..self._n {
            self.mbusy[i].clock.next = self.clock.val();
            self.waiting[i].clock.next = self.clock.val();
            self.rreq[i].clock.next = self.clock.val();
            self.m_nva[i].clock.next = self.clock.val();
            self.m_len[i].clock.next = self.clock.val();
            self.m_epoch[i].clock.next = self.clock.val();
            self.mbusy[i].d.next = self.mbusy[i].q.val();
            self.waiting[i].d.next = self.waiting[i].q.val();
            self.rreq[i].d.next = self.rreq[i].q.val();
            self.m_nva[i].d.next = self.m_nva[i].q.val();
            self.m_len[i].d.next = self.m_len[i].q.val();
            self.m_epoch[i].d.next = self.m_epoch[i].q.val();
            if self.lrel.val() & self.pk_miss.q.val() & (self.pk_mbuf.q.val() == i.to_bits()) {
                self.mbusy[i].d.next = false;
            }
            if self.rrel.val() & (self.op_buf.val() == i.to_bits()) {
                self.mbusy[i].d.next = false;
            }
            if self.rt_written.val() & (self.rt_buf.q.val() == i.to_bits()) {
                self.mbusy[i].d.next = false;
            }
            if self.take_miss.val() & (self.alloc_buf.val() == i.to_bits()) {
                self.mbusy[i].d.next = true;
            }
            if self.park.val() & (self.op_buf.val() == i.to_bits()) {
                self.waiting[i].d.next = true;
                self.m_nva[i].d.next = self.hdr_nva.q.val();
                self.m_len[i].d.next = self.hdr_len.q.val();
                self.m_epoch[i].d.next = self.hdr_epoch.q.val();
            }
            if self.rewait.val() & (self.op_buf.val() == i.to_bits()) {
                self.waiting[i].d.next = true;
            }
            if self.res_hit.val() & (self.resolve_tag.val() == i.to_bits()) {
                self.waiting[i].d.next = false;
                if self.resolve_drop.val() {
                    self.mbusy[i].d.next = false;
                } else {
                    self.rreq[i].d.next = true;
                }
            }
            if self.rt_issue.val() & (self.rt_pick.val() == i.to_bits()) {
                self.rreq[i].d.next = false;
            }
        }
        self.np_inc.next = 0.into();
        if self.park.val() {
            self.np_inc.next = 1.into();
        }
        self.np_dec1.next = 0.into();
        if self.unpark.val() {
            self.np_dec1.next = 1.into();
        }
        self.np_dec2.next = 0.into();
        if self.rdrop.val() {
            self.np_dec2.next = 1.into();
        }
        self.nparked.d.next =
            self.nparked.q.val() + self.np_inc.val() - self.np_dec1.val() - self.np_dec2.val();
        self.parked.next = self.nparked.q.val();

        // ---- Malformed drops: up to two per cycle in, one pulse per cycle out.
        self.mal_cnt.d.next =
            self.mal_cnt.q.val() + self.mal_a.val() + self.mal_b.val() + self.mal_c.val();
        self.drop_malformed.next = self.mal_cnt.q.val() != 0;
        if self.mal_cnt.q.val() != 0 {
            self.mal_cnt.d.next =
                self.mal_cnt.q.val() + self.mal_a.val() + self.mal_b.val() + self.mal_c.val() - 1;
        }

        // ---- Line writer: ring jobs first, then a retried packet's job.
        self.jq_addr.next = self.jq.data_out.val().get_bits::<32>(0);
        self.jq_meta.next = self.jq.data_out.val().get_bits::<27>(32);
        self.jq_len.next = self.jq.data_out.val().get_bits::<13>(59);
        self.jq_any.next = !self.jq.empty.val();
        self.jq_words.next = (bit_cast::<RA, 13>(self.jq_len.val()) + 3) >> 2;
        self.lw.job_valid.next = self.jq_any.val() | self.rt_is_job.val();
        self.lw.job_ring.next = self.jq_any.val();
        self.job_base_sel.next = self.r_rd.q.val() & self.c_ring_mask.val();
        self.job_addr_sel.next = self.jq_addr.val();
        self.job_len_sel.next = self.jq_len.val();
        if !self.jq_any.val() {
            self.job_base_sel.next = self.c_ring_words.val()
                + (bit_cast::<RA, TAG_BITS>(self.rt_buf.q.val()) << self.c_slot_shift.val());
            self.job_addr_sel.next = (bit_cast::<32, 20>(self.rr_page.q.val())
                << self.c_page_shift.val())
                | (self.rb_nva.val() & self.c_off_mask.val());
            self.job_len_sel.next = self.rb_len.val();
        }
        self.lw.job_base.next = self.job_base_sel.val();
        self.lw.job_addr.next = self.job_addr_sel.val();
        self.lw.job_length.next = self.job_len_sel.val();
        self.lw_pop.next = self.lw.job_valid.val() & self.lw.job_ready.val();
        self.jq.read.next = self.lw_pop.val() & self.jq_any.val();
        if self.lw_pop.val() {
            if self.jq_any.val() {
                self.r_rd.d.next =
                    (self.r_rd.q.val() + self.jq_words.val()) & self.c_ptr_mask.val();
                self.wj_nva.d.next = (bit_cast::<32, 20>(self.jq_meta.val().get_bits::<20>(0))
                    << self.c_page_shift.val())
                    | (self.jq_addr.val() & self.c_off_mask.val());
                self.wj_len.d.next = self.jq_len.val();
                self.wj_slot.d.next = self.jq_meta.val().get_bits::<6>(20);
                self.wj_sig.d.next = self.jq_meta.val().get_bit(26);
            } else {
                self.rt_state.d.next = RetryState::Write;
            }
        }
        if self.lw.done.val() {
            self.ev_del.d.next = true;
            if self.rt_is_write.val() {
                self.rt_state.d.next = RetryState::Idle;
                self.ev_del_slot.d.next = self.rr_slot.q.val();
                self.ev_del_bytes.d.next = self.rb_len.val();
                self.ev_nt.d.next = self.rr_signal.q.val();
                self.ev_nt_nva.d.next = self.rb_nva.val();
            } else {
                // No job was taken since this one, so the read pointer is just past it.
                self.r_fr.d.next = self.r_rd.q.val();
                self.ev_del_slot.d.next = self.wj_slot.q.val();
                self.ev_del_bytes.d.next = self.wj_len.q.val();
                self.ev_nt.d.next = self.wj_sig.q.val();
                self.ev_nt_nva.d.next = self.wj_nva.q.val();
            }
        }
        self.ram.read_address.next = self.lw.ram_read_address.val();
        self.lw.ram_read_data.next = self.ram.read_data.val();
        self.lw.wr_ready.next = self.wr_ready.val();
        self.wr_valid.next = self.lw.wr_valid.val();
        self.wr_addr.next = self.lw.wr_addr.val();
        self.wr_data.next = self.lw.wr_data.val();
        self.wr_strb.next = self.lw.wr_strb.val();
        self.wr_last.next = self.lw.wr_last.val();

        // ---- Event outputs.
        self.miss_valid.next = self.ev_miss.q.val();
        self.miss_tag.next = self.ev_miss_tag.q.val();
        self.drop_crc_epoch.next = self.ev_crc.q.val();
        self.drop_protection.next = self.ev_prot.q.val();
        self.drop_miss_dropped.next = self.ev_mdrop.q.val();
        self.drop_miss_overflow.next = self.ev_ovf.q.val();
        self.drop_rx_overrun.next = self.ev_ovr.q.val();
        self.delivered_event.next = self.ev_del.q.val();
        self.delivered_slot.next = self.ev_del_slot.q.val();
        self.delivered_bytes.next = self.ev_del_bytes.q.val();
        self.notify_valid.next = self.ev_nt.q.val();
        self.notify_nva.next = self.ev_nt_nva.q.val();
        // A notification is a delivery with more detail (only meaningful with `notify_valid`).
        self.notify_length.next = self.ev_del_bytes.q.val();
        self.trace.next = (bit_cast::<TRACE_BITS, 1>(self.tr_valid.q.val().into())
            << self.c_tr_valid_lsb.val())
            | (bit_cast::<TRACE_BITS, 1>(self.tr_link.q.val().into()) << self.c_tr_link_lsb.val())
            | (bit_cast::<TRACE_BITS, VERDICT_CODE_BITS>(self.tr_code.q.val())
                << self.c_tr_code_lsb.val())
            | (bit_cast::<TRACE_BITS, TAG_BITS>(self.tr_tag.q.val()) << self.c_tr_tag_lsb.val())
            | (bit_cast::<TRACE_BITS, 1>(self.ev_mdrop.q.val().into())
                << self.c_tr_hdrop_lsb.val())
            | (bit_cast::<TRACE_BITS, TAG_BITS>(self.tr_hdrop_tag.q.val())
                << self.c_tr_hdrop_tag_lsb.val())
            | (bit_cast::<TRACE_BITS, 1>(self.ev_del.q.val().into())
                << self.c_tr_written_lsb.val());
    }
}

// ============================================================================================
// Software reference model
// ============================================================================================

/// One word on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkWord {
    pub sop: bool,
    pub eop: bool,
    pub data: u32,
}

/// Link words as one well-framed packet (sop on the first, eop on the last).
pub fn framed(words: &[u32]) -> Vec<LinkWord> {
    let n = words.len();
    words
        .iter()
        .enumerate()
        .map(|(i, w)| LinkWord {
            sop: i == 0,
            eop: i + 1 == n,
            data: *w,
        })
        .collect()
}

/// A run of link words the receiver handles as one packet (see the module's framing rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUnit {
    /// Index in the stream of the unit's first word.
    pub start: usize,
    pub words: Vec<u32>,
    /// Began with start of packet (took, or needed, a receive buffer).
    pub has_sop: bool,
    /// Ended by end of packet (else cut by the next start of packet, or still open).
    pub complete: bool,
}

impl LinkUnit {
    /// A link packet (`spec::trace`): begun by start of packet, ended by end of packet, at
    /// least two words. The depacketizer decides exactly one link verdict for each; cut runs,
    /// one-word runs and strays get none (they are counted malformed directly).
    pub fn is_link_packet(&self) -> bool {
        self.has_sop && self.complete && self.words.len() >= 2
    }
}

/// Splits a link word stream into units. A trailing open unit is returned with
/// `complete == false`: the receiver has not decided it yet.
pub fn split_link_units(stream: &[LinkWord]) -> (Vec<LinkUnit>, Option<LinkUnit>) {
    let mut done = Vec::new();
    let mut open: Option<LinkUnit> = None;
    for (i, w) in stream.iter().enumerate() {
        if w.sop {
            if let Some(u) = open.take() {
                done.push(u);
            }
            open = Some(LinkUnit {
                start: i,
                words: vec![],
                has_sop: true,
                complete: false,
            });
        } else if open.is_none() {
            open = Some(LinkUnit {
                start: i,
                words: vec![],
                has_sop: false,
                complete: false,
            });
        }
        let u = open.as_mut().unwrap();
        u.words.push(w.data);
        if w.eop {
            u.complete = true;
            done.push(open.take().unwrap());
        }
    }
    (done, open)
}

/// A translation as the RX mapping cache returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMapping {
    /// Physical page.
    pub page: u32,
    pub writable: bool,
    pub signal: bool,
    pub counter_slot: u8,
    pub epoch: u8,
}

/// Why a received packet was dropped (one `drop_*` pulse each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RxDrop {
    CrcEpoch,
    Protection,
    MissDropped,
    MissOverflow,
    Malformed,
    RxOverrun,
}

/// A packet written to memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxDelivery {
    /// Physical byte address of payload byte 0.
    pub addr: u32,
    pub payload: Vec<u8>,
    pub nva: u32,
    pub counter_slot: u8,
    /// The mapping has `signal`: a notification accompanies the delivery.
    pub notify: bool,
}

/// What the receiver does with a packet (or a resolve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RxEvent {
    Delivered(RxDelivery),
    Dropped(RxDrop),
    /// Miss posted (`miss_valid` with the NVA page); the packet is parked under `id`.
    Miss {
        id: u64,
        page: u32,
    },
}

impl RxEvent {
    /// The trace verdict that decides this event (`None` for a host drop, which is no verdict).
    pub fn verdict(&self) -> Option<Verdict> {
        Some(match self {
            RxEvent::Delivered(_) => Verdict::Accepted,
            RxEvent::Miss { .. } => Verdict::Parked,
            RxEvent::Dropped(why) => match why {
                RxDrop::CrcEpoch => Verdict::CrcEpoch,
                RxDrop::Protection => Verdict::Protection,
                RxDrop::MissDropped => return None,
                RxDrop::MissOverflow => Verdict::MissOverflow,
                RxDrop::Malformed => Verdict::Malformed,
                RxDrop::RxOverrun => Verdict::RxOverrun,
            },
        })
    }
}

#[derive(Debug, Clone)]
struct Parked {
    id: u64,
    header: Header,
    payload: Vec<u8>,
}

/// Transaction-level model of the depacketizer: verdicts per packet and the miss buffer.
/// Ring overrun depends on timing (memory back-pressure) and is an input.
#[derive(Debug, Clone)]
pub struct RxModel {
    pub params: CoreParams,
    parked: Vec<Parked>,
    next_id: u64,
}

impl RxModel {
    pub fn new(params: &CoreParams) -> Self {
        RxModel {
            params: *params,
            parked: Vec::new(),
            next_id: 0,
        }
    }

    /// Packets in the miss buffer.
    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    /// Ids of the parked packets, oldest first.
    pub fn parked_ids(&self) -> Vec<u64> {
        self.parked.iter().map(|p| p.id).collect()
    }

    /// The verdict for a finished unit. `overrun`: the packet went to the receive ring and some
    /// of its words found no room there (or its write job none in the job queue); it applies to
    /// a complete unit only (a cut packet is malformed). `lookup` answers the RX cache for an NVA page.
    pub fn receive(
        &mut self,
        unit: &LinkUnit,
        overrun: bool,
        lookup: &dyn Fn(u32) -> Option<RxMapping>,
    ) -> RxEvent {
        if unit.has_sop && overrun {
            return RxEvent::Dropped(RxDrop::RxOverrun);
        }
        if !unit.has_sop || !unit.complete {
            return RxEvent::Dropped(RxDrop::Malformed);
        }
        let d = match decode(&unit.words, &self.params) {
            Ok(d) => d,
            Err(_) => return RxEvent::Dropped(RxDrop::Malformed),
        };
        if !d.crc_ok {
            return RxEvent::Dropped(RxDrop::CrcEpoch);
        }
        match lookup(d.header.nva_page()) {
            None => {
                if self.parked.len() < self.params.miss_buffer_packets as usize {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.parked.push(Parked {
                        id,
                        header: d.header,
                        payload: d.payload,
                    });
                    RxEvent::Miss {
                        id,
                        page: d.header.nva_page(),
                    }
                } else {
                    RxEvent::Dropped(RxDrop::MissOverflow)
                }
            }
            Some(m) => hit_checks(&d.header, d.payload, &m),
        }
    }

    /// A resolve for parked packet `id`: `None` if it is not parked (ignored).
    pub fn resolve(
        &mut self,
        id: u64,
        drop: bool,
        lookup: &dyn Fn(u32) -> Option<RxMapping>,
    ) -> Option<RxEvent> {
        let pos = self.parked.iter().position(|p| p.id == id)?;
        if drop {
            self.parked.remove(pos);
            return Some(RxEvent::Dropped(RxDrop::MissDropped));
        }
        let page = self.parked[pos].header.nva_page();
        match lookup(page) {
            None => Some(RxEvent::Miss { id, page }),
            Some(m) => {
                let p = self.parked.remove(pos);
                Some(hit_checks(&p.header, p.payload, &m))
            }
        }
    }
}

/// Checks of a packet whose page hit, in order: epoch, protection; else its delivery.
pub fn hit_checks(header: &Header, payload: Vec<u8>, m: &RxMapping) -> RxEvent {
    if header.epoch != m.epoch {
        return RxEvent::Dropped(RxDrop::CrcEpoch);
    }
    if !m.writable || header.page_offset() + header.length > PAGE_SIZE {
        return RxEvent::Dropped(RxDrop::Protection);
    }
    RxEvent::Delivered(RxDelivery {
        addr: (m.page << PAGE_SHIFT) | header.page_offset(),
        payload,
        nva: header.nva,
        counter_slot: m.counter_slot,
        notify: m.signal,
    })
}

/// The trailer a packet with these words (header and payload) must carry for `epoch`.
pub fn trailer_for(words: &[u32], epoch: u8) -> u32 {
    crate::spec::packet::raw_crc(words) ^ epoch_seed(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::packet::{encode, packet_words, H1_LENGTH};
    use crate::spec::trace::RxTrace;
    use proptest::prelude::*;
    use std::collections::{HashMap, VecDeque};
    use vassa_hdl_tools::testbench::{yosys_check, Bench};

    /// An event seen on the block's outputs.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum Ev {
        Delivered {
            slot: u8,
            bytes: u32,
        },
        Notify {
            nva: u32,
            len: u32,
        },
        Miss {
            page: u32,
            tag: u8,
        },
        Drop(RxDrop),
        /// A verdict on the trace (for a link packet, or a retry of miss buffer `tag`).
        Verdict {
            link: bool,
            code: Verdict,
            tag: u8,
        },
        /// A host drop on the trace.
        HostDrop {
            tag: u8,
        },
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    /// Physical pages the mappings point at; memory outside them must never be written.
    const PHYS_FIRST_PAGE: u32 = 0x80;
    const PHYS_PAGES: u32 = 6;

    /// A lookup in flight in the modelled cache.
    struct Pending {
        /// Cycle of the answer.
        due: u64,
        answer: Option<RxMapping>,
        /// Not preempted: the answer comes with `result_valid` high.
        valid: bool,
        /// A link lookup (else a retry).
        link: bool,
    }

    /// Depacketizer with a modelled RX cache and a memory with a random `wr_ready`. The cache
    /// follows the mapping cache's contract: it answers exactly 2 cycles after a lookup, but a
    /// lookup in the cycle right after another preempts it (the earlier answer comes with
    /// `result_valid` low and garbage fields); it raises `lookup_hold` in random bursts when
    /// `hold_pct` is not 0. The harness checks the depacketizer's side of the contract: a link
    /// lookup the cycle after every start of a packet of two words or more, and retry lookups
    /// only when no lookup was presented in the previous cycle and `lookup_hold` is low.
    struct Harness {
        b: Bench<Depacketizer>,
        params: CoreParams,
        cache: HashMap<u32, RxMapping>,
        results: VecDeque<Pending>,
        mem: Vec<u8>,
        rng: Rng,
        /// `wr_ready` is low with probability stall/8.
        stall: u64,
        /// `wr_ready` is low before this cycle.
        hold_until: u64,
        /// Chance in percent per cycle that `lookup_hold` starts a burst (1 to 4 cycles high).
        hold_pct: u64,
        /// Cycles of the current `lookup_hold` burst still to come.
        hold_left: u64,
        /// The previous cycle presented a lookup.
        prev_lookup: bool,
        /// The previous cycle had a start of packet that needs a link lookup.
        prev_sop: bool,
        log: Vec<(u64, Ev)>,
        last_write: u64,
        lookups: u64,
        /// Retries that missed again.
        remisses: u64,
        /// Retry lookups presented, and those preempted by a link lookup.
        retry_lookups: u64,
        retries_preempted: u64,
        /// Link lookups preempted by a link lookup (cut packets).
        links_preempted: u64,
        /// Cycles with `lookup_hold` high.
        hold_cycles: u64,
        /// Retry lookups withdrawn because `lookup_hold` rose in their cycle.
        retries_withdrawn: u64,
    }

    impl Harness {
        fn new(params: &CoreParams, seed: u64, stall: u64) -> Self {
            let mut rng = Rng(seed | 1);
            let mem = (0..PHYS_PAGES * PAGE_SIZE)
                .map(|_| rng.next() as u8)
                .collect();
            Harness {
                b: Bench::new(Depacketizer::new(params), |d| &mut d.clock),
                params: *params,
                cache: HashMap::new(),
                results: VecDeque::new(),
                mem,
                rng,
                stall,
                hold_until: 0,
                hold_pct: 0,
                hold_left: 0,
                prev_lookup: false,
                prev_sop: false,
                log: Vec::new(),
                last_write: 0,
                lookups: 0,
                remisses: 0,
                retry_lookups: 0,
                retries_preempted: 0,
                links_preempted: 0,
                hold_cycles: 0,
                retries_withdrawn: 0,
            }
        }

        fn n(&self) -> usize {
            self.params.miss_buffer_packets as usize
        }

        /// One clock cycle with the given link word and resolve.
        fn cycle(&mut self, link: Option<LinkWord>, resolve: Option<(u8, bool)>) {
            let c = self.b.cycle;
            let ready =
                c >= self.hold_until && (self.stall == 0 || self.rng.below(8) >= self.stall);
            if self.hold_left == 0 && self.hold_pct != 0 && self.rng.below(100) < self.hold_pct {
                self.hold_left = 1 + self.rng.below(4);
            }
            let hold = self.hold_left != 0;
            if hold {
                self.hold_left -= 1;
                self.hold_cycles += 1;
            }
            let garbage = self.rng.next();
            let u = &mut self.b.uut;
            u.lookup_hold.next = hold;
            u.rx_valid.next = link.is_some();
            let w = link.unwrap_or(LinkWord {
                sop: false,
                eop: false,
                data: 0,
            });
            u.rx_sop.next = w.sop;
            u.rx_eop.next = w.eop;
            u.rx_data.next = (w.data as u64).into();
            u.resolve_valid.next = resolve.is_some();
            let (rt, rd) = resolve.unwrap_or((0, false));
            u.resolve_tag.next = (rt as u64).into();
            u.resolve_drop.next = rd;
            u.wr_ready.next = ready;
            u.result_valid.next = false;
            if let Some(p) = self.results.front() {
                assert!(p.due >= c);
                if p.due == c {
                    let p = self.results.pop_front().unwrap();
                    let g = garbage as u32;
                    // A preempted lookup's answer: fields meaningless.
                    let (valid, hit, m) = if p.valid {
                        (true, p.answer.is_some(), p.answer)
                    } else {
                        (false, g & 1 != 0, None)
                    };
                    u.result_valid.next = valid;
                    u.result_hit.next = hit;
                    let m = m.unwrap_or(RxMapping {
                        page: if valid { 0 } else { g >> 12 },
                        writable: g & 2 != 0,
                        signal: g & 4 != 0,
                        counter_slot: (g >> 3) as u8 & 63,
                        epoch: (garbage >> 40) as u8,
                    });
                    u.result_page.next = (m.page as u64).into();
                    u.result_writable.next = m.writable;
                    u.result_signal.next = m.signal;
                    u.result_counter_slot.next = (m.counter_slot as u64).into();
                    u.result_epoch.next = (m.epoch as u64).into();
                }
            }
            self.b.settle();
            if self.b.uut.miss_valid.val() {
                // Ask for the page of the miss just posted, as the register file does at
                // `MISS_POP`.
                self.b.uut.parked_tag.next = self.b.uut.miss_tag.val();
                self.b.settle();
            }
            let u = &self.b.uut;
            let lookup = u.lookup_valid.val();
            if self.prev_sop {
                assert!(lookup, "cycle {c}: no link lookup after a start of packet");
            }
            if lookup {
                let key = u.lookup_key.val().to_u32();
                let tag = u.lookup_tag.val().to_u32() as u8;
                assert!((tag as usize) < self.n(), "lookup tag {tag}");
                let is_link = self.prev_sop;
                if !is_link {
                    assert!(
                        !self.prev_lookup,
                        "cycle {c}: retry lookup preempts a lookup"
                    );
                    assert!(!hold, "cycle {c}: retry lookup while lookup_hold is high");
                    self.retry_lookups += 1;
                }
                if let Some(back) = self.results.back_mut() {
                    if back.due == c + 1 {
                        // Presented in the previous cycle: preempted.
                        assert!(is_link);
                        back.valid = false;
                        if back.link {
                            self.links_preempted += 1;
                        } else {
                            self.retries_preempted += 1;
                        }
                    }
                }
                self.results.push_back(Pending {
                    due: c + 2,
                    answer: self.cache.get(&key).copied(),
                    valid: true,
                    link: is_link,
                });
                self.lookups += 1;
            }
            self.prev_lookup = lookup;
            self.retries_withdrawn += u.rt_wd.val() as u64;
            self.prev_sop = w.sop && !w.eop && link.is_some();
            let mut evs = vec![];
            if u.delivered_event.val() {
                evs.push(Ev::Delivered {
                    slot: u.delivered_slot.val().to_u32() as u8,
                    bytes: u.delivered_bytes.val().to_u32(),
                });
            }
            if u.notify_valid.val() {
                evs.push(Ev::Notify {
                    nva: u.notify_nva.val().to_u32(),
                    len: u.notify_length.val().to_u32(),
                });
            }
            if u.miss_valid.val() {
                evs.push(Ev::Miss {
                    page: u.parked_page.val().to_u32(),
                    tag: u.miss_tag.val().to_u32() as u8,
                });
            }
            let word = u.trace.val().to_u32();
            let trace = RxTrace::decode(word);
            assert_eq!(
                trace.encode(),
                word,
                "cycle {c}: trace bits outside its records"
            );
            let verdict = trace.verdict.map(|(_, v, _)| v);
            for (sig, why) in [
                (u.drop_crc_epoch.val(), RxDrop::CrcEpoch),
                (u.drop_protection.val(), RxDrop::Protection),
                (u.drop_miss_dropped.val(), RxDrop::MissDropped),
                (u.drop_miss_overflow.val(), RxDrop::MissOverflow),
                (u.drop_malformed.val(), RxDrop::Malformed),
                (u.drop_rx_overrun.val(), RxDrop::RxOverrun),
            ] {
                if sig {
                    evs.push(Ev::Drop(why));
                }
                // Each drop verdict pulses with its drop, and only verdicts raise these drops
                // (a malformed verdict pulses with a `drop_malformed` pulse, but the FSM
                // raises that one alone too).
                match RxEvent::Dropped(why).verdict() {
                    Some(Verdict::Malformed) => assert!(
                        sig || verdict != Some(Verdict::Malformed),
                        "cycle {c}: malformed verdict without drop_malformed"
                    ),
                    Some(v) => assert_eq!(sig, verdict == Some(v), "cycle {c}: {why:?} pulse"),
                    None => assert_eq!(sig, trace.host_drop.is_some(), "cycle {c}: host drop"),
                }
            }
            assert_eq!(
                u.miss_valid.val(),
                verdict == Some(Verdict::Parked),
                "cycle {c}: a miss is posted with a parked verdict"
            );
            assert_eq!(
                trace.written,
                u.delivered_event.val(),
                "cycle {c}: written pulses with the delivery"
            );
            if let Some((link, code, tag)) = trace.verdict {
                let tag = tag as u8;
                if code == Verdict::Parked {
                    assert_eq!(
                        tag,
                        u.miss_tag.val().to_u32() as u8,
                        "cycle {c}: parked tag"
                    );
                }
                evs.push(Ev::Verdict { link, code, tag });
            }
            if let Some(tag) = trace.host_drop {
                evs.push(Ev::HostDrop { tag: tag as u8 });
            }
            self.log.extend(evs.into_iter().map(|e| (c, e)));
            if u.wr_valid.val() && ready {
                let addr = u.wr_addr.val().to_u32();
                let data = u.wr_data.val().to_u32();
                let strb = u.wr_strb.val().to_u32();
                assert_eq!(addr & 3, 0);
                assert_ne!(strb, 0, "beat without bytes");
                let page = addr >> PAGE_SHIFT;
                assert!(
                    self.cache.values().any(|m| m.writable && m.page == page),
                    "write at {addr:#x}: not a writable mapped page"
                );
                for lane in 0..4 {
                    if strb & (1 << lane) != 0 {
                        let a = (addr + lane - (PHYS_FIRST_PAGE << PAGE_SHIFT)) as usize;
                        self.mem[a] = (data >> (8 * lane)) as u8;
                    }
                }
                self.last_write = c;
            }
            self.b.step();
        }

        /// Sends words (None = idle cycle); returns the cycle of each word.
        fn send(&mut self, stream: &[Option<LinkWord>]) -> Vec<u64> {
            let mut cycles = vec![];
            for w in stream {
                if w.is_some() {
                    cycles.push(self.b.cycle);
                }
                self.cycle(*w, None);
            }
            cycles
        }

        /// Miss buffers in use.
        fn busy_count(&self) -> usize {
            self.b.uut.mbusy.iter().filter(|d| d.q.val()).count()
        }

        /// Runs until nothing has happened for a while; checks no buffer or job is left over.
        fn quiesce(&mut self) {
            let mut quiet = 0;
            let start = self.b.cycle;
            while quiet < 40 {
                assert!(
                    self.b.cycle - start < 50_000,
                    "depacketizer did not go quiet"
                );
                let before = self.log.len();
                let active = self.b.uut.wr_valid.val()
                    || self.b.uut.lookup_valid.val()
                    || !self.results.is_empty();
                self.cycle(None, None);
                if active || self.log.len() != before {
                    quiet = 0;
                } else {
                    quiet += 1;
                }
            }
            let u = &self.b.uut;
            assert!(u.jq.empty.val(), "jobs left over");
            let (wp, rd, fr) = (u.r_wp.q.val(), u.r_rd.q.val(), u.r_fr.q.val());
            assert!(
                wp == rd && rd == fr,
                "ring words leaked: {wp:?} {rd:?} {fr:?}"
            );
            assert_eq!(u.mal_cnt.q.val().to_u32(), 0);
            assert_eq!(u.rt_state.q.val(), RetryState::Idle);
            assert!(u.rreq.iter().all(|d| !d.q.val()));
            let parked = u.parked.val().to_u32() as usize;
            assert_eq!(self.busy_count(), parked, "buffers leaked");
        }
    }

    /// What the harness logs for a delivery the model expects (its `Delivered` event and, for
    /// a signalled mapping, its `Notify`), with its payload written into `image`.
    fn expect_delivery(d: &RxDelivery, image: &mut [u8]) -> (Ev, Option<Ev>) {
        let off = (d.addr - (PHYS_FIRST_PAGE << PAGE_SHIFT)) as usize;
        image[off..off + d.payload.len()].copy_from_slice(&d.payload);
        let len = d.payload.len() as u32;
        let notify = d.notify.then_some(Ev::Notify { nva: d.nva, len });
        let delivered = Ev::Delivered {
            slot: d.counter_slot,
            bytes: len,
        };
        (delivered, notify)
    }

    /// Expected outputs of a phase, from the model, against the events logged since `from`.
    /// Misses are matched in order and their tags recorded in `tags` (model id -> tag).
    fn check_phase(
        h: &Harness,
        from: usize,
        expected: &[RxEvent],
        tags: &mut HashMap<u64, u8>,
        image: &mut [u8],
    ) {
        let got: Vec<&Ev> = h.log[from..].iter().map(|(_, e)| e).collect();
        let mut want_drops: Vec<RxDrop> = vec![];
        let mut want_del = vec![];
        let mut want_notify = vec![];
        let mut want_miss = vec![];
        for e in expected {
            match e {
                RxEvent::Dropped(why) => want_drops.push(*why),
                RxEvent::Miss { id, page } => want_miss.push((*id, *page)),
                RxEvent::Delivered(d) => {
                    let (delivered, notify) = expect_delivery(d, image);
                    want_del.push(delivered);
                    want_notify.extend(notify);
                }
            }
        }
        let mut got_drops: Vec<RxDrop> = got
            .iter()
            .filter_map(|e| match e {
                Ev::Drop(w) => Some(*w),
                _ => None,
            })
            .collect();
        want_drops.sort();
        got_drops.sort();
        assert_eq!(got_drops, want_drops, "drops");
        let got_del: Vec<Ev> = got
            .iter()
            .filter(|e| matches!(e, Ev::Delivered { .. }))
            .map(|e| (*e).clone())
            .collect();
        assert_eq!(got_del, want_del, "deliveries");
        let got_notify: Vec<Ev> = got
            .iter()
            .filter(|e| matches!(e, Ev::Notify { .. }))
            .map(|e| (*e).clone())
            .collect();
        assert_eq!(got_notify, want_notify, "notifications");
        let got_miss: Vec<(u32, u8)> = got
            .iter()
            .filter_map(|e| match e {
                Ev::Miss { page, tag } => Some((*page, *tag)),
                _ => None,
            })
            .collect();
        assert_eq!(
            got_miss.iter().map(|m| m.0).collect::<Vec<_>>(),
            want_miss.iter().map(|m| m.1).collect::<Vec<_>>(),
            "miss pages"
        );
        for ((id, _), (_, tag)) in want_miss.iter().zip(&got_miss) {
            if let Some(old) = tags.insert(*id, *tag) {
                assert_eq!(old, *tag, "a parked packet changed tag");
            }
        }
        assert!(h.mem == image, "memory image differs from the model");
    }

    /// Sends a burst, lets it drain and checks it against the model. Returns the units.
    fn run_burst(
        h: &mut Harness,
        model: &mut RxModel,
        stream: &[Option<LinkWord>],
        tags: &mut HashMap<u64, u8>,
        image: &mut [u8],
    ) -> usize {
        let from = h.log.len();
        let words: Vec<LinkWord> = stream.iter().flatten().copied().collect();
        let (units, open) = split_link_units(&words);
        assert!(open.is_none(), "bursts end with a closed unit");
        let word_cycles = h.send(stream);
        h.quiesce();
        let (expected, overruns) = expect_link_units(h, model, &units, &word_cycles, from);
        check_phase(h, from, &expected, tags, image);
        assert_eq!(h.b.uut.parked.val().to_u32() as usize, model.parked());
        overruns
    }

    /// The model's events for a burst's link units (sent at `word_cycles`, logged from
    /// `from`), each told whether the RTL overran on it: its overrun pulse comes 2 cycles after
    /// its end-of-packet word, and a pulse anywhere else fails. Returns the events and the
    /// number of overruns.
    fn expect_link_units(
        h: &Harness,
        model: &mut RxModel,
        units: &[LinkUnit],
        word_cycles: &[u64],
        from: usize,
    ) -> (Vec<RxEvent>, usize) {
        let overruns: Vec<u64> = h.log[from..]
            .iter()
            .filter(|(_, e)| *e == Ev::Drop(RxDrop::RxOverrun))
            .map(|(c, _)| *c)
            .collect();
        let lookup = |p: u32| h.cache.get(&p).copied();
        let mut expected = vec![];
        let mut matched = 0;
        for u in units {
            let end = word_cycles[u.start + u.words.len() - 1];
            let overrun = u.has_sop && u.complete && overruns.contains(&(end + 2));
            matched += overrun as usize;
            expected.push(model.receive(u, overrun, &lookup));
        }
        assert_eq!(
            matched,
            overruns.len(),
            "overrun pulses not at the end of a packet"
        );
        // One link verdict per link packet, in link order, deciding what the model decided.
        let want: Vec<Verdict> = units
            .iter()
            .zip(&expected)
            .filter(|(u, _)| u.is_link_packet())
            .map(|(_, e)| e.verdict().expect("a link packet's event is a verdict"))
            .collect();
        assert_eq!(link_verdicts(h, from), want, "link verdicts");
        (expected, overruns.len())
    }

    /// The link verdicts traced since log entry `from`, in order.
    fn link_verdicts(h: &Harness, from: usize) -> Vec<Verdict> {
        h.log[from..]
            .iter()
            .filter_map(|(_, e)| match e {
                Ev::Verdict {
                    link: true, code, ..
                } => Some(*code),
                _ => None,
            })
            .collect()
    }

    /// What the trace shows for the model's answer to a resolve of miss buffer `tag`: a host
    /// drop, or the retry's verdict.
    fn expect_resolve_trace(e: &RxEvent, tag: u8) -> Ev {
        match e.verdict() {
            None => Ev::HostDrop { tag },
            Some(code) => Ev::Verdict {
                link: false,
                code,
                tag,
            },
        }
    }

    /// A resolve as the host issues it, checked against the model.
    fn run_resolve(
        h: &mut Harness,
        model: &mut RxModel,
        tag: u8,
        id: Option<u64>,
        drop: bool,
        tags: &mut HashMap<u64, u8>,
        image: &mut [u8],
    ) {
        let from = h.log.len();
        h.cycle(None, Some((tag, drop)));
        h.quiesce();
        let lookup = |p: u32| h.cache.get(&p).copied();
        let expected: Vec<RxEvent> = id
            .and_then(|id| model.resolve(id, drop, &lookup))
            .into_iter()
            .collect();
        if let Some(RxEvent::Miss { id, .. }) = expected.first() {
            // Still missing: the new miss names the same buffer.
            let again = h.log[from..]
                .iter()
                .find_map(|(_, e)| match e {
                    Ev::Miss { tag, .. } => Some(*tag),
                    _ => None,
                })
                .expect("a new miss");
            assert_eq!(again, tags[id]);
            h.remisses += 1;
        }
        let traced: Vec<&Ev> = h.log[from..]
            .iter()
            .map(|(_, e)| e)
            .filter(|e| matches!(e, Ev::Verdict { .. } | Ev::HostDrop { .. }))
            .collect();
        let want: Vec<Ev> = expected
            .iter()
            .map(|e| expect_resolve_trace(e, tag))
            .collect();
        assert_eq!(traced, want.iter().collect::<Vec<_>>(), "resolve trace");
        check_phase(h, from, &expected, tags, image);
        assert_eq!(h.b.uut.parked.val().to_u32() as usize, model.parked());
    }

    // ---- Traffic generation ----------------------------------------------------------------

    /// NVA pages with mappings installed at the start, and pages that miss until the host
    /// installs them.
    const NVA_MAPPED: u32 = 0x12340;
    const NVA_MISSING: u32 = 0x55500;

    fn random_mapping(rng: &mut Rng, epoch: u8) -> RxMapping {
        RxMapping {
            page: PHYS_FIRST_PAGE + rng.below(PHYS_PAGES as u64) as u32,
            writable: !rng.chance(15),
            signal: rng.chance(50),
            counter_slot: rng.below(64) as u8,
            epoch,
        }
    }

    /// A packet to `page` with random length/offset (in bounds unless `oob`).
    fn packet(rng: &mut Rng, params: &CoreParams, page: u32, epoch: u8, oob: bool) -> Vec<u32> {
        let len = 1 + rng.below(params.max_payload as u64) as u32;
        let offset = if oob {
            PAGE_SIZE - len + 1 + rng.below(len as u64) as u32
        } else {
            rng.below((PAGE_SIZE - len + 1) as u64) as u32
        };
        let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let h = Header {
            nva: (page << PAGE_SHIFT) | offset,
            length: len,
            first: rng.chance(50),
            last: rng.chance(50),
            user: rng.chance(50),
            src_node: rng.next() as u8,
            epoch,
        };
        encode(&h, &payload)
    }

    /// One unit of traffic of a random kind, as link words.
    fn random_unit(rng: &mut Rng, h: &Harness) -> Vec<LinkWord> {
        let params = &h.params;
        let mapped: Vec<(u32, RxMapping)> = h.cache.iter().map(|(k, m)| (*k, *m)).collect();
        let pick_mapped = |rng: &mut Rng| mapped[rng.below(mapped.len() as u64) as usize];
        let missing = NVA_MISSING + rng.below(4) as u32;
        let kind = rng.below(100);
        let mut words = match kind {
            0..=39 => {
                let (page, m) = pick_mapped(rng);
                packet(rng, params, page, m.epoch, false)
            }
            40..=57 => {
                let e = rng.next() as u8;
                packet(rng, params, missing, e, false)
            }
            58..=62 => {
                let (page, m) = pick_mapped(rng);
                packet(rng, params, page, m.epoch, true)
            }
            63..=67 => {
                let (page, m) = pick_mapped(rng);
                packet(rng, params, page, m.epoch.wrapping_add(1), false)
            }
            68..=73 => {
                // A flipped bit anywhere.
                let (page, m) = pick_mapped(rng);
                let mut w = packet(rng, params, page, m.epoch, false);
                let i = rng.below(w.len() as u64) as usize;
                w[i] ^= 1 << rng.below(32);
                w
            }
            74..=77 => {
                // Bad length field, trailer still right.
                let (page, m) = pick_mapped(rng);
                let mut w = packet(rng, params, page, m.epoch, false);
                let bad = if rng.chance(50) {
                    0
                } else {
                    params.max_payload + 1 + rng.below(100) as u32
                };
                w[1] = H1_LENGTH.put(w[1], bad);
                let n = w.len();
                w[n - 1] = trailer_for(&w[..n - 1], m.epoch);
                w
            }
            _ => {
                let (page, m) = pick_mapped(rng);
                packet(rng, params, page, m.epoch, false)
            }
        };
        let mut lw = framed(&words);
        match kind {
            78..=80 if words.len() > 1 => {
                // Truncated: eop early.
                let cut = 1 + rng.below(words.len() as u64 - 1) as usize;
                words.truncate(cut);
                lw = framed(&words);
            }
            81..=83 => {
                // One word too many.
                words.push(rng.next() as u32);
                lw = framed(&words);
            }
            84..=86 => lw[0].sop = false, // sop missing: a stray run
            87..=89 => {
                // sop again in the middle: the packet is cut, the rest starts a new one.
                let i = 1 + rng.below(lw.len() as u64 - 1) as usize;
                lw[i].sop = true;
            }
            90..=92 => {
                // eop missing: cut by the next packet.
                let n = lw.len();
                lw[n - 1].eop = false;
            }
            93..=95 => {
                lw = vec![LinkWord {
                    sop: true,
                    eop: true,
                    data: rng.next() as u32,
                }]
            }
            96..=99 => {
                // Words without sop between packets, ended by eop or cut by the next sop.
                let n = 1 + rng.below(3) as usize;
                let eop = kind < 98;
                lw = (0..n)
                    .map(|i| LinkWord {
                        sop: false,
                        eop: eop && i + 1 == n,
                        data: rng.next() as u32,
                    })
                    .collect();
            }
            _ => {}
        }
        lw
    }

    /// A burst: units back to back or with idle gaps, closed by a well-formed packet.
    fn random_burst(rng: &mut Rng, h: &Harness, units: usize) -> Vec<Option<LinkWord>> {
        let back_to_back = rng.chance(60);
        let mut s = vec![];
        for _ in 0..units {
            s.extend(random_unit(rng, h).into_iter().map(Some));
            if !back_to_back {
                for _ in 0..rng.below(6) {
                    s.push(None);
                }
            }
        }
        let (page, m) = h.cache.iter().next().map(|(k, m)| (*k, *m)).unwrap();
        s.extend(
            framed(&packet(rng, &h.params, page, m.epoch, false))
                .into_iter()
                .map(Some),
        );
        s
    }

    /// The host side after a burst: resolves parked packets in random ways.
    fn host_phase(
        rng: &mut Rng,
        h: &mut Harness,
        model: &mut RxModel,
        tags: &mut HashMap<u64, u8>,
        image: &mut [u8],
        finish: bool,
    ) {
        let mut ids = model.parked_ids();
        while !ids.is_empty() {
            let id = ids.remove(rng.below(ids.len() as u64) as usize);
            let tag = tags[&id];
            let action = rng.below(100);
            if rng.chance(10) {
                // A resolve naming a buffer that is not waiting: ignored.
                let parked_tags: Vec<u8> = model.parked_ids().iter().map(|i| tags[i]).collect();
                let bogus = (0..16u8).find(|t| !parked_tags.contains(t)).unwrap();
                run_resolve(h, model, bogus, None, rng.chance(50), tags, image);
            }
            if action < 45 || (finish && action < 70) {
                // Install a mapping for the page (usually right, sometimes stale or read-only),
                // then retry.
                let page = h.log.iter().rev().find_map(|(_, e)| match e {
                    Ev::Miss { page, tag: t } if *t == tag => Some(*page),
                    _ => None,
                });
                let page = page.expect("miss record for a parked packet");
                let epoch = model
                    .parked
                    .iter()
                    .find(|p| p.id == id)
                    .unwrap()
                    .header
                    .epoch;
                let epoch = if rng.chance(85) {
                    epoch
                } else {
                    epoch.wrapping_add(1)
                };
                let m = random_mapping(rng, epoch);
                h.cache.insert(page, m);
                run_resolve(h, model, tag, Some(id), false, tags, image);
            } else if finish || action < 70 {
                run_resolve(h, model, tag, Some(id), true, tags, image);
            } else if action < 85 {
                // Retry without installing: misses again unless another install covered it.
                run_resolve(h, model, tag, Some(id), false, tags, image);
            }
            if !finish {
                break;
            }
            if ids.is_empty() {
                ids = model.parked_ids();
            }
        }
    }

    fn setup_cache(rng: &mut Rng, h: &mut Harness) {
        for k in 0..6 {
            let epoch = rng.next() as u8;
            let m = random_mapping(rng, epoch);
            h.cache.insert(NVA_MAPPED + k, m);
        }
        // At least one writable mapping, so every burst has deliverable traffic.
        h.cache.get_mut(&NVA_MAPPED).unwrap().writable = true;
    }

    fn run_traffic(
        params: CoreParams,
        seed: u64,
        stall: u64,
        hold_pct: u64,
        bursts: usize,
    ) -> (usize, u64) {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut h = Harness::new(&params, seed, stall);
        h.hold_pct = hold_pct;
        setup_cache(&mut rng, &mut h);
        let mut model = RxModel::new(&params);
        let mut tags = HashMap::new();
        let mut image = h.mem.clone();
        let mut overruns = 0;
        for _ in 0..bursts {
            let units = 2 + rng.below(9) as usize;
            let s = random_burst(&mut rng, &h, units);
            overruns += run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
            host_phase(&mut rng, &mut h, &mut model, &mut tags, &mut image, false);
        }
        host_phase(&mut rng, &mut h, &mut model, &mut tags, &mut image, true);
        assert_eq!(model.parked(), 0);
        assert_eq!(h.busy_count(), 0);
        assert!(h.mem == image);
        let mut stats: std::collections::BTreeMap<String, usize> = Default::default();
        for (_, e) in &h.log {
            let k = match e {
                Ev::Drop(w) => format!("{w:?}"),
                Ev::Delivered { .. } => "Delivered".into(),
                Ev::Notify { .. } => "Notify".into(),
                Ev::Miss { .. } => "Miss".into(),
                Ev::Verdict { link, code, .. } => {
                    format!("{} {code:?}", if *link { "link" } else { "retry" })
                }
                Ev::HostDrop { .. } => "HostDrop".into(),
            };
            *stats.entry(k).or_default() += 1;
        }
        println!(
            "{params:?} stall {stall}/8 hold {hold_pct}%: {} cycles, {} lookups, {} retries missed again, events {stats:?}",
            h.b.cycle, h.lookups, h.remisses
        );
        (overruns, h.b.cycle)
    }

    // ---- Verilog cross-check ---------------------------------------------------------------

    /// Replays a random-traffic run of the Rust simulation on the generated Verilog with Icarus
    /// Verilog; every output must match in every cycle.
    fn cross_check(params: CoreParams, seed: u64, stall: u64, hold_pct: u64, bursts: usize) {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut h = Harness::new(&params, seed, stall);
        h.hold_pct = hold_pct;
        h.b.record();
        setup_cache(&mut rng, &mut h);
        let mut model = RxModel::new(&params);
        let mut tags = HashMap::new();
        let mut image = h.mem.clone();
        for _ in 0..bursts {
            let units = 2 + rng.below(9) as usize;
            let s = random_burst(&mut rng, &h, units);
            run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
            host_phase(&mut rng, &mut h, &mut model, &mut tags, &mut image, false);
        }
        host_phase(&mut rng, &mut h, &mut model, &mut tags, &mut image, true);
        // The writer's data beside a low `wr_valid` may be a word read while it was written.
        h.b.replay_qualified(&format!("depacketizer_{seed}"), &[("wr_data", "wr_valid")]);
        println!(
            "{params:?}: {} cycles replayed on the Verilog, no difference",
            h.b.cycle
        );
    }

    #[test]
    fn generated_verilog_matches_the_simulation() {
        cross_check(CoreParams::default(), 99, 2, 0, 8);
        let odd = CoreParams {
            miss_buffer_packets: 3,
            max_payload: 40,
            line_bytes: 8,
            ..Default::default()
        };
        cross_check(odd, 7, 3, 25, 8);
        // Retries preempted by link lookups and held back by `lookup_hold`.
        let three = CoreParams {
            miss_buffer_packets: 3,
            ..Default::default()
        };
        let h = preempt_round(&three, 3, 20, true);
        h.b.replay_qualified("depacketizer_preempt", &[("wr_data", "wr_valid")]);
        println!(
            "preempted retries: {} cycles replayed on the Verilog, no difference ({} retries preempted)",
            h.b.cycle, h.retries_preempted
        );
    }

    // ---- Tests -----------------------------------------------------------------------------

    #[test]
    fn verilog_is_clean() {
        yosys_check("depacketizer", Depacketizer::new(&CoreParams::default()));
        vassa_hdl_tools::testbench::lint_check(
            "depacketizer",
            Depacketizer::new(&CoreParams::default()),
        );
        // Ten buffers, a 16-entry job queue (payload size kept moderate: yosys unrolls the RAM
        // initialisation).
        let big = CoreParams {
            miss_buffer_packets: 8,
            max_payload: 1024,
            line_bytes: 128,
            ..Default::default()
        };
        yosys_check("depacketizer_big", Depacketizer::new(&big));
        let small = CoreParams {
            miss_buffer_packets: 1,
            max_payload: 4,
            line_bytes: 4,
            ..Default::default()
        };
        yosys_check("depacketizer_small", Depacketizer::new(&small));
    }

    #[test]
    fn framing_split_and_model_basics() {
        let p = CoreParams::default();
        let w = |sop, eop, data| LinkWord { sop, eop, data };
        // stray word, a packet cut by a sop, a one-word packet, an open packet.
        let s = [
            w(false, false, 1),
            w(false, true, 2),
            w(true, false, 3),
            w(true, true, 4),
            w(true, false, 5),
        ];
        let (units, open) = split_link_units(&s);
        assert_eq!(units.len(), 3);
        assert!(!units[0].has_sop && units[0].complete);
        assert!(units[1].has_sop && !units[1].complete && units[1].words == vec![3]);
        assert!(units[2].has_sop && units[2].complete && units[2].start == 3);
        assert_eq!(open.unwrap().words, vec![5]);
        let mut m = RxModel::new(&p);
        let none = |_: u32| None;
        for u in &units {
            assert_eq!(
                m.receive(u, false, &none),
                RxEvent::Dropped(RxDrop::Malformed)
            );
        }
        assert_eq!(
            m.receive(&units[2], true, &none),
            RxEvent::Dropped(RxDrop::RxOverrun)
        );
    }

    /// Builds `count` back-to-back hit packets of `len` bytes at page offset `offset`.
    fn hit_stream(page: u32, epoch: u8, len: u32, offset: u32, count: usize) -> Vec<u32> {
        let mut words = vec![];
        for k in 0..count {
            let payload: Vec<u8> = (0..len).map(|i| (i as usize * 3 + k * 7) as u8).collect();
            let off = (offset + k as u32 * 4 * len.div_ceil(4)) % (PAGE_SIZE - len);
            let h = Header {
                nva: (page << PAGE_SHIFT) | off,
                length: len,
                epoch,
                ..Default::default()
            };
            words.extend(encode(&h, &payload));
        }
        words
    }

    fn framed_stream(words: &[u32], len: u32) -> Vec<Option<LinkWord>> {
        let per = packet_words(len) as usize;
        words
            .chunks(per)
            .flat_map(|c| framed(c).into_iter().map(Some))
            .collect()
    }

    /// Sends back-to-back hit packets; returns (eop cycles, delivered cycles, overruns).
    fn timed_hits(h: &mut Harness, words: &[u32], len: u32) -> (Vec<u64>, Vec<u64>, usize) {
        let from = h.log.len();
        let stream = framed_stream(words, len);
        let cycles = h.send(&stream);
        h.quiesce();
        let per = packet_words(len) as usize;
        let eops: Vec<u64> = cycles.chunks(per).map(|c| *c.last().unwrap()).collect();
        let del: Vec<u64> = h.log[from..]
            .iter()
            .filter(|(_, e)| matches!(e, Ev::Delivered { .. }))
            .map(|(c, _)| *c)
            .collect();
        let ovr = h.log[from..]
            .iter()
            .filter(|(_, e)| *e == Ev::Drop(RxDrop::RxOverrun))
            .count();
        (eops, del, ovr)
    }

    fn park_misses(h: &mut Harness, count: usize) {
        for k in 0..count {
            let w = encode(
                &Header {
                    nva: (NVA_MISSING + k as u32) << PAGE_SHIFT,
                    length: 16,
                    ..Default::default()
                },
                &[0xAB; 16],
            );
            h.send(&framed(&w).into_iter().map(Some).collect::<Vec<_>>());
        }
        h.quiesce();
        assert_eq!(h.b.uut.parked.val().to_u32() as usize, count);
    }

    #[test]
    fn latencies_and_hit_flow_while_misses_are_parked() {
        let params = CoreParams::default();
        let mut h = Harness::new(&params, 7, 0);
        let m = RxMapping {
            page: PHYS_FIRST_PAGE,
            writable: true,
            signal: true,
            counter_slot: 5,
            epoch: 3,
        };
        h.cache.insert(NVA_MAPPED, m);

        // Header word 0 to miss_valid.
        for len in [4u32, 64] {
            let w = encode(
                &Header {
                    nva: (NVA_MISSING + 9) << PAGE_SHIFT,
                    length: len,
                    ..Default::default()
                },
                &vec![1; len as usize],
            );
            let from = h.log.len();
            let cycles = h.send(&framed(&w).into_iter().map(Some).collect::<Vec<_>>());
            h.quiesce();
            let miss = h.log[from..]
                .iter()
                .find(|(_, e)| matches!(e, Ev::Miss { .. }))
                .unwrap()
                .0;
            println!(
                "header word 0 -> miss_valid, {len}-byte packet ({} words): {} cycles",
                w.len(),
                miss - cycles[0]
            );
            let tag = match h.log[from..]
                .iter()
                .find(|(_, e)| matches!(e, Ev::Miss { .. }))
            {
                Some((_, Ev::Miss { tag, .. })) => *tag,
                _ => unreachable!(),
            };
            h.cycle(None, Some((tag, true)));
            h.quiesce();
        }

        // End of packet to last write, one 64-byte packet.
        let w = hit_stream(NVA_MAPPED, 3, 64, 0, 1);
        let from = h.log.len();
        let (eops, del, _) = timed_hits(&mut h, &w, 64);
        println!(
            "eop -> last write beat, 64-byte aligned packet: {} cycles (delivered pulse {} cycles after eop)",
            h.last_write - eops[0],
            del[0] - eops[0]
        );
        assert_eq!(h.log.len() - from, 3); // verdict, delivered + notify

        // Back-to-back hits: no miss parked, then with the miss buffer full.
        for len in [64u32, 13, 256] {
            let words = hit_stream(NVA_MAPPED, 3, len, 1, 24);
            let (e0, d0, o0) = timed_hits(&mut h, &words, len);
            park_misses(&mut h, params.miss_buffer_packets as usize);
            let (e1, d1, o1) = timed_hits(&mut h, &words, len);
            assert_eq!((o0, o1), (0, 0), "overruns at line rate");
            assert_eq!((d0.len(), d1.len()), (24, 24));
            let lat0: Vec<u64> = e0.iter().zip(&d0).map(|(e, d)| d - e).collect();
            let lat1: Vec<u64> = e1.iter().zip(&d1).map(|(e, d)| d - e).collect();
            let stall: i64 = lat1
                .iter()
                .zip(&lat0)
                .map(|(a, b)| *a as i64 - *b as i64)
                .sum();
            println!(
                "{len}-byte hits back to back: eop -> delivered {:?}..{:?} cycles; stall cycles with {} misses parked: {stall}",
                lat0.iter().min().unwrap(),
                lat0.iter().max().unwrap(),
                params.miss_buffer_packets
            );
            assert_eq!(stall, 0);
            // Release the parked misses.
            for t in 0..h.n() as u8 {
                h.cycle(None, Some((t, true)));
            }
            h.quiesce();
            assert_eq!(h.b.uut.parked.val().to_u32(), 0);
        }
    }

    #[test]
    fn line_rate_with_full_miss_buffer() {
        for mbp in [1u32, 2] {
            for max_payload in [16u32, 256] {
                let params = CoreParams {
                    miss_buffer_packets: mbp,
                    max_payload,
                    ..Default::default()
                };
                let mut h = Harness::new(&params, 11, 0);
                let m = RxMapping {
                    page: PHYS_FIRST_PAGE + 1,
                    writable: true,
                    signal: false,
                    counter_slot: 1,
                    epoch: 9,
                };
                h.cache.insert(NVA_MAPPED, m);
                park_misses(&mut h, mbp as usize);
                let mut image = h.mem.clone();
                for len in [1u32, 2, 3, 4, 5, 7, 8, 15, 16, max_payload - 1, max_payload] {
                    for offset in 0..4 {
                        let words = hit_stream(NVA_MAPPED, 9, len, offset, 12);
                        let (_, del, ovr) = timed_hits(&mut h, &words, len);
                        assert_eq!((ovr, del.len()), (0, 12), "len {len} offset {offset}");
                        for p in words.chunks(packet_words(len) as usize) {
                            let d = decode(p, &params).unwrap();
                            let off = (d.header.page_offset() + PAGE_SIZE) as usize;
                            image[off..off + len as usize].copy_from_slice(&d.payload);
                        }
                        assert!(h.mem == image, "len {len} offset {offset}");
                    }
                }
            }
        }
    }

    #[test]
    fn retry_while_hit_traffic_flows() {
        let params = CoreParams::default();
        let mut h = Harness::new(&params, 5, 0);
        let m = RxMapping {
            page: PHYS_FIRST_PAGE + 2,
            writable: true,
            signal: true,
            counter_slot: 2,
            epoch: 1,
        };
        h.cache.insert(NVA_MAPPED, m);
        park_misses(&mut h, 2);
        let tags: Vec<u8> = h
            .log
            .iter()
            .filter_map(|(_, e)| match e {
                Ev::Miss { tag, .. } => Some(*tag),
                _ => None,
            })
            .collect();
        // Map the missing pages, then resolve both in the middle of a stream of hits.
        for (k, page) in [NVA_MISSING, NVA_MISSING + 1].into_iter().enumerate() {
            h.cache.insert(
                page,
                RxMapping {
                    page: PHYS_FIRST_PAGE + 3 + k as u32,
                    writable: true,
                    signal: false,
                    counter_slot: 7,
                    epoch: 0,
                },
            );
        }
        let from = h.log.len();
        let words = hit_stream(NVA_MAPPED, 1, 40, 2, 16);
        let stream = framed_stream(&words, 40);
        for (i, w) in stream.iter().enumerate() {
            let resolve = match i {
                30 => Some((tags[0], false)),
                31 => Some((tags[1], false)),
                _ => None,
            };
            h.cycle(*w, resolve);
        }
        h.quiesce();
        let del = h.log[from..]
            .iter()
            .filter(|(_, e)| matches!(e, Ev::Delivered { .. }))
            .count();
        let ovr = h.log[from..]
            .iter()
            .filter(|(_, e)| *e == Ev::Drop(RxDrop::RxOverrun))
            .count();
        assert_eq!((del, ovr), (18, 0));
        assert_eq!(h.b.uut.parked.val().to_u32(), 0);
        for k in 0..2usize {
            let base = ((PHYS_FIRST_PAGE + 3 + k as u32 - PHYS_FIRST_PAGE) << PAGE_SHIFT) as usize;
            assert_eq!(&h.mem[base..base + 16], &[0xAB; 16]);
        }
    }

    // ---- Receive ring: no loss at line rate ------------------------------------------------

    /// A harness with NVA pages `NVA_MAPPED` and `NVA_MAPPED + 1` mapped (writable, epoch 4) and
    /// `parked` packets parked in the miss buffer, with its model and memory image.
    fn ring_setup(
        params: &CoreParams,
        seed: u64,
        parked: usize,
    ) -> (Harness, RxModel, HashMap<u64, u8>, Vec<u8>) {
        ring_setup_on(Harness::new(params, seed, 0), parked)
    }

    /// [`ring_setup`] on a harness already made (e.g. recording).
    fn ring_setup_on(
        mut h: Harness,
        parked: usize,
    ) -> (Harness, RxModel, HashMap<u64, u8>, Vec<u8>) {
        let params = &h.params.clone();
        for k in 0..2 {
            h.cache.insert(
                NVA_MAPPED + k,
                RxMapping {
                    page: PHYS_FIRST_PAGE + 1 + k,
                    writable: true,
                    signal: k == 0,
                    counter_slot: 3 + k as u8,
                    epoch: 4,
                },
            );
        }
        let mut model = RxModel::new(params);
        let mut tags = HashMap::new();
        let mut image = h.mem.clone();
        if parked > 0 {
            let mut s = vec![];
            for k in 0..parked as u32 {
                let w = encode(
                    &Header {
                        nva: (NVA_MISSING + k) << PAGE_SHIFT,
                        length: 16,
                        ..Default::default()
                    },
                    &[0xAB; 16],
                );
                s.extend(framed(&w).into_iter().map(Some));
            }
            run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
        }
        assert_eq!(h.b.uut.parked.val().to_u32() as usize, parked);
        (h, model, tags, image)
    }

    /// Link words of back-to-back hit packets of `lens` bytes carrying one message from NVA
    /// offset `offset` in page `NVA_MAPPED` on (a packet that would cross a page starts at
    /// the next page).
    fn message(lens: &[u32], offset: u32, seed: u8) -> Vec<Option<LinkWord>> {
        let mut nva = (NVA_MAPPED << PAGE_SHIFT) + offset;
        let mut s = vec![];
        for (i, &len) in lens.iter().enumerate() {
            if (nva & (PAGE_SIZE - 1)) + len > PAGE_SIZE {
                nva = (nva | (PAGE_SIZE - 1)) + 1;
            }
            let payload: Vec<u8> = (0..len)
                .map(|x| (x as u8).wrapping_mul(7) ^ (i as u8).wrapping_mul(29) ^ seed)
                .collect();
            let hd = Header {
                nva,
                length: len,
                epoch: 4,
                ..Default::default()
            };
            s.extend(framed(&encode(&hd, &payload)).into_iter().map(Some));
            nva += len;
        }
        s
    }

    /// Sends the packets back to back with memory always ready: none may be lost, every one
    /// is delivered with its exact bytes (checked against the model by `run_burst`).
    fn no_loss_at_line_rate(params: &CoreParams, parked: usize, lens: &[u32], offset: u32) {
        let (mut h, mut model, mut tags, mut image) = ring_setup(params, 3, parked);
        let from = h.log.len();
        let s = message(lens, offset, lens.len() as u8);
        let overruns = run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
        assert_eq!(overruns, 0, "{lens:?} with {parked} parked");
        let delivered = h.log[from..]
            .iter()
            .filter(|(_, e)| matches!(e, Ev::Delivered { .. }))
            .count();
        assert_eq!(delivered, lens.len(), "{lens:?} with {parked} parked");
        assert_eq!(h.b.uut.parked.val().to_u32() as usize, parked);
    }

    /// Sends `stream` with a resolve (tag, model id) at some of its word indices, lets it drain
    /// and checks the events against the model, in any order (retried packets are delivered
    /// between ring packets as the writer takes them). The retried packets' pages must not
    /// overlap the link packets' (the memory image is built in the model's order).
    fn run_burst_resolving(
        h: &mut Harness,
        model: &mut RxModel,
        stream: &[Option<LinkWord>],
        resolves: &HashMap<usize, (u8, u64)>,
        tags: &HashMap<u64, u8>,
        image: &mut [u8],
    ) {
        let from = h.log.len();
        let words: Vec<LinkWord> = stream.iter().flatten().copied().collect();
        let (units, open) = split_link_units(&words);
        assert!(open.is_none(), "bursts end with a closed unit");
        let mut word_cycles = vec![];
        for (i, w) in stream.iter().enumerate() {
            if w.is_some() {
                word_cycles.push(h.b.cycle);
            }
            h.cycle(*w, resolves.get(&i).map(|&(tag, _)| (tag, false)));
        }
        h.quiesce();
        let (mut expected, _) = expect_link_units(h, model, &units, &word_cycles, from);
        let lookup = |p: u32| h.cache.get(&p).copied();
        let mut order: Vec<usize> = resolves.keys().copied().collect();
        order.sort();
        let mut want = vec![];
        for i in order {
            let (tag, id) = resolves[&i];
            let e = model.resolve(id, false, &lookup);
            want.extend(e.iter().map(|e| expect_resolve_trace(e, tag)));
            expected.extend(e);
        }
        for e in &expected {
            match e {
                RxEvent::Dropped(why) => want.push(Ev::Drop(*why)),
                RxEvent::Miss { id, page } => want.push(Ev::Miss {
                    page: *page,
                    tag: tags[id],
                }),
                RxEvent::Delivered(d) => {
                    let (delivered, notify) = expect_delivery(d, image);
                    want.push(delivered);
                    want.extend(notify);
                }
            }
        }
        // Link verdicts were checked in order by `expect_link_units`.
        let mut got: Vec<Ev> = h.log[from..]
            .iter()
            .map(|(_, e)| e.clone())
            .filter(|e| !matches!(e, Ev::Verdict { link: true, .. }))
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "events");
        assert!(h.mem == image, "memory image differs from the model");
        assert_eq!(h.b.uut.parked.val().to_u32() as usize, model.parked());
    }

    /// One round of retries racing link traffic: `miss_buffer_packets` (at most 3) packets are
    /// parked, their pages installed (the last one sometimes not: its retry misses again, one
    /// miss), then short hit packets come back to back, some preceded by a packet cut after 1
    /// to 3 words (link lookups 1 to 3 cycles apart) or a one-word packet, while the host
    /// resolves every parked packet at a random word. Retries are preempted when a start of
    /// packet follows their issue; every packet must still be delivered exactly once, with
    /// no miss but the expected ones (checked against the model).
    fn preempt_round(params: &CoreParams, seed: u64, hold_pct: u64, record: bool) -> Harness {
        let n = params.miss_buffer_packets;
        assert!(n <= 3, "retried packets need their own physical pages");
        let mut h = Harness::new(params, seed, 0);
        if record {
            h.b.record();
        }
        h.hold_pct = hold_pct;
        let (mut h, mut model, tags, mut image) = ring_setup_on(h, n as usize);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let installs = if rng.chance(25) { n - 1 } else { n };
        for k in 0..installs {
            h.cache.insert(
                NVA_MISSING + k,
                RxMapping {
                    page: PHYS_FIRST_PAGE + 3 + k,
                    writable: true,
                    signal: true,
                    counter_slot: 10 + k as u8,
                    epoch: 0,
                },
            );
        }
        let lens: Vec<u32> = (0..24).map(|_| 1 + rng.below(12) as u32).collect();
        let words: Vec<Option<LinkWord>> =
            message(&lens, rng.below(PAGE_SIZE as u64) as u32, seed as u8);
        let mut s = vec![];
        for w in words {
            let w = w.unwrap();
            if w.sop {
                match rng.below(10) {
                    0 => {
                        for i in 0..1 + rng.below(3) {
                            s.push(Some(LinkWord {
                                sop: i == 0,
                                eop: false,
                                data: if i == 0 {
                                    NVA_MAPPED << PAGE_SHIFT
                                } else {
                                    rng.next() as u32
                                },
                            }));
                        }
                    }
                    1 => s.push(Some(LinkWord {
                        sop: true,
                        eop: true,
                        data: rng.next() as u32,
                    })),
                    2 => s.extend((0..1 + rng.below(3)).map(|_| None)),
                    _ => {}
                }
            }
            s.push(Some(w));
        }
        let mut resolves = HashMap::new();
        for (id, tag) in &tags {
            loop {
                let i = rng.below(s.len() as u64) as usize;
                if let std::collections::hash_map::Entry::Vacant(e) = resolves.entry(i) {
                    e.insert((*tag, *id));
                    break;
                }
            }
        }
        run_burst_resolving(&mut h, &mut model, &s, &resolves, &tags, &mut image);
        assert_eq!(model.parked() as u32, n - installs);
        h
    }

    #[test]
    fn retries_preempted_by_back_to_back_packets() {
        let mut stats = [0u64; 5];
        for mbp in [1u32, 3] {
            let params = CoreParams {
                miss_buffer_packets: mbp,
                ..Default::default()
            };
            for seed in 0..30u64 {
                let hold_pct = [0, 10, 30][seed as usize % 3];
                let h = preempt_round(&params, seed + 100 * mbp as u64, hold_pct, false);
                for (k, v) in [
                    h.retry_lookups,
                    h.retries_preempted,
                    h.links_preempted,
                    h.hold_cycles,
                    h.retries_withdrawn,
                ]
                .into_iter()
                .enumerate()
                {
                    stats[k] += v;
                }
            }
        }
        println!(
            "retry lookups {}, retries preempted {}, link lookups preempted {}, hold cycles {}, \
             retries withdrawn {}",
            stats[0], stats[1], stats[2], stats[3], stats[4]
        );
        assert!(stats[1] >= 10, "too few preempted retries: {stats:?}");
        assert!(stats[2] >= 10, "too few preempted link lookups: {stats:?}");
        assert!(stats[4] >= 3, "too few withdrawn retries: {stats:?}");
    }

    #[test]
    fn long_packet_then_short_ones_back_to_back_are_not_lost() {
        let params = CoreParams::default();
        // (a) Miss buffer full, a 951-byte message crossing a page boundary.
        no_loss_at_line_rate(&params, 2, &[256, 103, 256, 256, 80], PAGE_SIZE - 359);
        // (b) Miss buffer full, 256 + 160 + 45 bytes.
        no_loss_at_line_rate(&params, 2, &[256, 160, 45], 100);
        // (c) Nothing parked, one long packet then short ones.
        no_loss_at_line_rate(&params, 0, &[256, 52, 52, 52, 52, 52, 1, 13, 4, 52], 1);
        no_loss_at_line_rate(&params, 1, &[256, 256, 256, 1, 256, 2, 3, 256, 255], 3);
    }

    #[test]
    fn memory_back_pressure_overruns_the_ring_and_is_counted() {
        let params = CoreParams::default();
        for (lens, min_overruns) in [
            // Long packets: the ring fills after four.
            (vec![256u32; 8], 3),
            // Tiny packets: the job queue (16 entries) fills first.
            (vec![4u32; 30], 10),
            (vec![256, 13, 1, 200, 256, 256, 64, 8, 256, 100], 1),
        ] {
            let (mut h, mut model, mut tags, mut image) = ring_setup(&params, 5, 2);
            h.hold_until = h.b.cycle + 800;
            let s = message(&lens, 0, 1);
            // The model is told which packets overran; everything else must match it, and the
            // harness checks every write lands in a writable mapped page.
            let overruns = run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
            println!(
                "{} packets with memory held: {overruns} overruns",
                lens.len()
            );
            assert!(overruns >= min_overruns, "{overruns} overruns for {lens:?}");
            // The ring works again afterwards.
            let s = message(&[256, 52, 52, 52, 52], 40, 2);
            assert_eq!(run_burst(&mut h, &mut model, &s, &mut tags, &mut image), 0);
        }
    }

    /// The trace's invariant on a stream of every framing case: one verdict per link packet, in
    /// link order, none for a stray run, a cut packet or a one-word packet.
    #[test]
    fn trace_has_one_verdict_per_link_packet_in_link_order() {
        let (mut h, mut model, mut tags, mut image) = ring_setup(&CoreParams::default(), 4, 0);
        let w = |sop, eop, data| Some(LinkWord { sop, eop, data });
        let hit = message(&[8], 0, 1);
        let miss = encode(
            &Header {
                nva: NVA_MISSING << PAGE_SHIFT,
                length: 16,
                ..Default::default()
            },
            &[0xCD; 16],
        );
        // A stray run, a packet cut by the next start of packet, a one-word packet.
        let mut s = vec![w(false, false, 1), w(false, true, 2)];
        s.extend_from_slice(&hit[..3]);
        s.push(w(true, true, 3));
        // A two-word packet (a link packet, malformed), a miss, a hit, a hit cut short by its
        // end of packet (malformed), and a hit.
        s.extend([w(true, false, NVA_MAPPED << PAGE_SHIFT), w(false, true, 5)]);
        s.extend(framed(&miss).into_iter().map(Some));
        s.extend_from_slice(&hit);
        s.extend_from_slice(&hit[..hit.len() - 1]);
        s.last_mut().unwrap().as_mut().unwrap().eop = true;
        s.extend_from_slice(&hit);
        let from = h.log.len();
        run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
        use Verdict::*;
        assert_eq!(
            link_verdicts(&h, from),
            [Malformed, Parked, Accepted, Malformed, Accepted]
        );
        let malformed = h.log[from..]
            .iter()
            .filter(|(_, e)| *e == Ev::Drop(RxDrop::Malformed))
            .count();
        assert_eq!(malformed, 5, "three runs without a verdict, two verdicts");
    }

    /// STATUS.rx_parked counts a packet from its park verdict until its miss buffer is freed:
    /// a retried packet while it waits for the writer (memory held) until written, else until
    /// the drop at its retry or by the host.
    #[test]
    fn parked_counts_until_the_miss_buffer_is_freed() {
        for (mapping_epoch, host_drops) in [(0u8, false), (1, false), (0, true)] {
            let (mut h, _, tags, _) = ring_setup(&CoreParams::default(), 9, 1);
            let tag = tags[&0];
            h.cache.insert(
                NVA_MISSING,
                RxMapping {
                    page: PHYS_FIRST_PAGE + 3,
                    writable: true,
                    signal: false,
                    counter_slot: 7,
                    epoch: mapping_epoch,
                },
            );
            h.hold_until = h.b.cycle + 300;
            let from = h.log.len();
            h.cycle(None, Some((tag, host_drops)));
            let mut parked = vec![];
            while h.b.cycle < h.hold_until + 100 {
                parked.push((h.b.cycle, h.b.uut.parked.val().to_u32()));
                h.cycle(None, None);
            }
            let at = |want: &dyn Fn(&Ev) -> bool| {
                h.log[from..].iter().find(|(_, e)| want(e)).map(|(c, _)| *c)
            };
            let verdict = at(&|e| matches!(e, Ev::Verdict { link: false, .. }));
            let freed = if host_drops {
                assert_eq!(verdict, None);
                at(&|e| *e == Ev::HostDrop { tag })
            } else if mapping_epoch != 0 {
                at(&|e| {
                    matches!(
                        e,
                        Ev::Verdict {
                            code: Verdict::CrcEpoch,
                            ..
                        }
                    )
                })
            } else {
                let written = at(&|e| matches!(e, Ev::Delivered { .. }));
                let waited = written.unwrap() - verdict.unwrap();
                assert!(waited > 200, "written {waited} cycles after its verdict");
                written
            };
            let freed = freed.expect("the packet's end");
            for (c, n) in parked {
                assert_eq!(n, (c < freed) as u32, "cycle {c}, freed in {freed}");
            }
        }
    }

    #[test]
    fn random_traffic_short() {
        let (ovr, cycles) = run_traffic(CoreParams::default(), 1234, 3, 20, 6);
        println!("overruns {ovr}, cycles {cycles}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn back_to_back_hits_never_overrun_with_memory_ready(
            raw in proptest::collection::vec(1u32..=4096, 1..14),
            offset in 0u32..4096,
            max_payload in prop_oneof![Just(16u32), Just(64), Just(256)],
            mbp in 1u32..=3,
            park in any::<bool>(),
        ) {
            let params = CoreParams {
                miss_buffer_packets: mbp,
                max_payload,
                ..Default::default()
            };
            let lens: Vec<u32> = raw.iter().map(|l| 1 + (l - 1) % max_payload).collect();
            let parked = if park { mbp as usize } else { 0 };
            no_loss_at_line_rate(&params, parked, &lens, offset);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn random_traffic_matches_the_model(
            seed in any::<u64>(),
            mbp in 1u32..=3,
            line_log2 in 2u32..=7,
            max_payload in prop_oneof![Just(4u32), Just(16), Just(40), Just(64), Just(256)],
            stall in 0u64..=4,
            hold_pct in prop_oneof![Just(0u64), 1u64..=40],
        ) {
            let params = CoreParams {
                miss_buffer_packets: mbp,
                line_bytes: 1 << line_log2,
                max_payload,
                ..Default::default()
            };
            run_traffic(params, seed, stall, hold_pct, 10);
        }
    }
}
