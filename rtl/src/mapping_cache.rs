//! Fully associative mapping cache (TX: physical page → NVA page; RX: NVA page → physical
//! page), a content-addressable memory built from iCE40 block RAMs.
//!
//! # Storage
//! A 20-bit key is cut into three chunks (bits 6:0, 13:7, 19:14). Chunk RAM j holds, for each
//! value of its chunk, a match vector with one bit per entry: bit s is set when entry s's key
//! has that chunk. A key matches entry s when bit s is set in all three rows its chunks
//! address, and entry s is valid. Entries 16 at a time share one [`CamRam`] per chunk (16-bit
//! rows), so 16 entries take 3 block RAMs and 64 take 12. The rows above the chunk rows of each
//! chunk's first RAM hold, per entry, a third of its value (row `VROW + s`) and its key chunk
//! (row `KROW + s`, to find the rows to clear when the entry is replaced). Keys in registers
//! with a comparator per entry took 408 flip-flops and 521 LUT4 per 16-entry cache; on the
//! iCE40 every one of those flip-flops is a logic cell.
//!
//! # Lookup (latency [`crate::spec::params::LOOKUP_LATENCY`] = 2)
//! - edge 1: the chunk rows of the presented key are read and the request registered;
//! - cycle 2: the three rows and the valid bits give the matching entries; the highest-numbered
//!   one wins (a radix-4 priority tree), and its value row is addressed. The pending install
//!   (below) is compared apart, from registers: it wins when its key matches and no higher
//!   entry does, and then its value comes from the latch (the value row read is not used), so
//!   the read address never waits for that compare;
//! - edge 2: the value row is read and the result registers load. On a miss the value outputs
//!   are 0.
//!
//! A lookup uses the RAMs' single read port in both cycles. A lookup presented in the cycle
//! right after another one takes the port: the earlier lookup is *preempted* and its result
//! comes out at its usual time with `lookup.result_valid` low. Lookups two or more cycles apart are
//! never preempted. The link side of the depacketizer presents a lookup per start of packet:
//! well-formed packets are at least 4 words long, so only a cut (malformed) packet's lookup is
//! ever preempted; retries and the TX MMU keep their lookups apart.
//!
//! # Host ops
//! Invalidate and flush clear valid bits. An install clears the entry's valid bit, latches the
//! op, and then, with `op.busy` high, updates the RAMs in five steps: `ReadKey` (writes the value
//! rows, and reads the entry's old key row in a cycle when no lookup needs the read port; a
//! flip-flop records that the read happened, so the step register never waits on a
//! requester's same-cycle signals), `Capture` (the next cycle: keeps the old key), `Clear`
//! (clears bit s in the old key's chunk rows), `Set` (sets it in the new key's rows) and
//! `WriteKey` (stores the new key, sets valid). `Clear` and `Set` wait a cycle when a lookup
//! reads the row they write in that edge, so no lookup ever reads a row while it is written
//! (what the iCE40 returns then is not specified); the rows they write are named by a register
//! (the old key, then the new one), compared with the lookup's key. While the
//! install is pending, a one-entry bypass compares each lookup with the latched key, and a hit
//! on it takes the value from the latch, so an op strobed in cycle t is seen by every lookup
//! presented from cycle t on, as if it had been applied at once.
//!
//! `op.busy` is high from the cycle after an install's strobe until it is done. An op strobed
//! while `op.busy` is high is refused (not applied); the register file reports it as
//! `ERROR.map_busy`. Requesters that can wait (TX MMU, depacketizer retries) present no lookup
//! while `op.busy` is high, so an install takes at most [`MAX_BUSY_CYCLES`] while the link carries
//! well-formed packets: a host writing MAP_CMD over a board bridge (hundreds of cycles per
//! register write) never sees a refusal; the simulated card waits for `op.busy` to fall.
//!
//! Keys are unique by contract, not by hardware: the driver never installs a key that another
//! valid entry holds (its slot table is the cache's mirror). If two valid entries do hold one
//! key, the highest-numbered entry wins, consistently for the slot and the value: the result
//! is always a mapping that is installed and valid, never a mix of two.

use crate::cam_ram::{CamRam, CAM_RAM_ADDR_BITS, CAM_RAM_WIDTH};
use crate::interfaces::{LookupResponder, MapOpResponder};
#[cfg(test)]
use crate::spec::params::LOOKUP_LATENCY;
use crate::spec::regmap::{MAP_OP_FLUSH, MAP_OP_INSTALL, MAP_OP_INVALIDATE};
use rust_hdl::prelude::*;

/// Widths of the cache's ports, as the interfaces declare them.
pub use crate::interfaces::{
    CACHE_SLOT_BITS as SLOT_BITS, COUNTER_SLOT_BITS, EPOCH_BITS, MAP_OP_BITS as OP_BITS, PAGE_BITS,
    TAG_BITS,
};
/// Most entries a cache can have (every entry number is addressable).
pub const MAX_ENTRIES: usize = 1 << SLOT_BITS;
// Attributes are packed densely (not in the MAP_ATTR register layout): 16 bits.
const ATTR_WRITABLE_LSB: u32 = 0;
const ATTR_SIGNAL_LSB: u32 = 1;
const ATTR_SLOT_LSB: u32 = 2;
const ATTR_EPOCH_LSB: u32 = ATTR_SLOT_LSB + COUNTER_SLOT_BITS as u32;
const ATTR_BITS: u32 = ATTR_EPOCH_LSB + EPOCH_BITS as u32;
const ATTR_WIDTH: usize = ATTR_BITS as usize;
const LSB_BITS: usize = 5;
const W: usize = CAM_RAM_WIDTH;
const A: usize = CAM_RAM_ADDR_BITS;
// The value (page 20 + attributes 16 bits) in the three value rows: page[15:0]; attr[11:0]
// over page[19:16]; attr[15:12]. Key chunks 7/7/6 bits.
const _: () = assert!(PAGE_BITS == 20 && ATTR_BITS == 16 && W == 16 && A == 8 && SLOT_BITS == 6);
/// Rows of each chunk's first RAM: match vectors in 0..128, values from VROW, keys from KROW.
const VROW: u32 = 128;
const KROW: u32 = VROW + MAX_ENTRIES as u32;
const _: () = assert!(KROW as usize + MAX_ENTRIES <= 1 << A);
const ST_BITS: usize = 2;
/// Longest run of `op.busy` cycles for one install while lookups are at least 4 cycles apart (the
/// link's well-formed packets; requesters that can wait hold theirs): up to 3 cycles waiting
/// for a free read port, one each for `Capture` and `WriteKey`, and up to 2 each for `Clear` and
/// `Set` (one wait for a lookup reading their row).
pub const MAX_BUSY_CYCLES: u32 = 9;

/// Install steps (see the module documentation; `Capture` is `ReadKey` with `kread` set).
const ST_READ_KEY: u32 = 0;
const ST_CLEAR: u32 = 1;
const ST_SET: u32 = 2;
const ST_WRITE_KEY: u32 = 3;

#[derive(LogicBlock)]
pub struct MappingCache {
    pub clock: Signal<In, Clock>,
    /// Host operations: one cycle of `op.valid`, refused while `op.busy` (an install is in
    /// progress).
    pub op: MapOpResponder,
    /// Lookups. The result follows `LOOKUP_LATENCY` cycles after the request (`lookup.result_valid`
    /// low if it was preempted); on a miss the value fields are 0. `hold` is `op.busy`.
    pub lookup: LookupResponder,
    // Stage 1: registered request.
    req_valid: DFF<Bit>,
    req_key: DFF<Bits<PAGE_BITS>>,
    req_tag: DFF<Bits<TAG_BITS>>,
    valid: Vec<DFF<Bit>>,
    // Chunk RAMs, 16 entries each; the first of each chunk also holds value and key rows.
    ram0: Vec<CamRam>,
    ram1: Vec<CamRam>,
    ram2: Vec<CamRam>,
    // Install in progress: the latched op, its step, whether the entry's key row was read at
    // the last edge, and the key whose chunk rows `Clear` / `Set` write (the old key, then
    // the new one).
    pend: DFF<Bit>,
    step: DFF<Bits<ST_BITS>>,
    kread: DFF<Bit>,
    l_key: DFF<Bits<PAGE_BITS>>,
    l_page: DFF<Bits<PAGE_BITS>>,
    l_attr: DFF<Bits<ATTR_WIDTH>>,
    l_slot: DFF<Bits<SLOT_BITS>>,
    w_key: DFF<Bits<PAGE_BITS>>,
    l_mask: Signal<Local, Bits<W>>,
    l_group: Signal<Local, Bits<2>>,
    l_above: Signal<Local, Bits<MAX_ENTRIES>>,
    // Stage 2.
    m0: Signal<Local, Bits<MAX_ENTRIES>>,
    m1: Signal<Local, Bits<MAX_ENTRIES>>,
    m2: Signal<Local, Bits<MAX_ENTRIES>>,
    valid_vec: Signal<Local, Bits<MAX_ENTRIES>>,
    byp: Signal<Local, Bit>,
    byp_wins: Signal<Local, Bit>,
    ram_vec: Signal<Local, Bits<MAX_ENTRIES>>,
    ram_slot: Signal<Local, Bits<SLOT_BITS>>,
    // The priority encoder's tree: per 4 entries (nibble) and per 16 (group).
    nib_any: Signal<Local, Bits<16>>,
    nib_i1: Signal<Local, Bits<16>>,
    nib_i0: Signal<Local, Bits<16>>,
    grp_any: Signal<Local, Bits<4>>,
    grp_idx: Signal<Local, Bits<16>>,
    // Read port (same address for every RAM of a chunk) and write port.
    port_free: Signal<Local, Bit>,
    ra_own: Signal<Local, Bits<A>>,
    ra0: Signal<Local, Bits<A>>,
    ra1: Signal<Local, Bits<A>>,
    ra2: Signal<Local, Bits<A>>,
    we: Signal<Local, Bit>,
    wa0: Signal<Local, Bits<A>>,
    wa1: Signal<Local, Bits<A>>,
    wa2: Signal<Local, Bits<A>>,
    wd0: Signal<Local, Bits<W>>,
    wd1: Signal<Local, Bits<W>>,
    wd2: Signal<Local, Bits<W>>,
    vk_write: Signal<Local, Bit>,
    row_write: Signal<Local, Bit>,
    row_conflict: Signal<Local, Bit>,
    k_row: Signal<Local, Bits<A>>,
    v_row: Signal<Local, Bits<A>>,
    op_ok: Signal<Local, Bit>,
    op_attr: Signal<Local, Bits<ATTR_WIDTH>>,
    op_slot_ok: Signal<Local, Bit>,
    // Result registers (the value comes from the RAMs' read registers or the latch).
    res_valid: DFF<Bit>,
    res_tag: DFF<Bits<TAG_BITS>>,
    res_key: DFF<Bits<PAGE_BITS>>,
    res_hit: DFF<Bit>,
    res_slot: DFF<Bits<SLOT_BITS>>,
    res_byp: DFF<Bit>,
    res_page: Signal<Local, Bits<PAGE_BITS>>,
    res_attr: Signal<Local, Bits<ATTR_WIDTH>>,
    // Constants from the spec and the generator parameter.
    entry_count: Constant<Bits<7>>,
    code_install: Constant<Bits<OP_BITS>>,
    code_invalidate: Constant<Bits<OP_BITS>>,
    code_flush: Constant<Bits<OP_BITS>>,
    vrow: Constant<Bits<A>>,
    krow: Constant<Bits<A>>,
    one: Constant<Bits<W>>,
    first_ram: Constant<Bits<MAX_ENTRIES>>,
    st_read_key: Constant<Bits<ST_BITS>>,
    st_clear: Constant<Bits<ST_BITS>>,
    st_set: Constant<Bits<ST_BITS>>,
    st_write_key: Constant<Bits<ST_BITS>>,
    writable_lsb: Constant<Bits<LSB_BITS>>,
    signal_lsb: Constant<Bits<LSB_BITS>>,
    counter_slot_lsb: Constant<Bits<LSB_BITS>>,
    epoch_lsb: Constant<Bits<LSB_BITS>>,
    _entries: usize,
    _rams: usize,
}

impl MappingCache {
    /// A cache of `entries` entries (1..=MAX_ENTRIES), all invalid.
    pub fn new(entries: usize) -> Self {
        assert!(
            (1..=MAX_ENTRIES).contains(&entries),
            "MappingCache entries {entries} out of range"
        );
        let rams = entries.div_ceil(W);
        let ram_vec = || (0..rams).map(|_| CamRam::default()).collect::<Vec<_>>();
        let lsb = constant::<LSB_BITS>;
        let code = constant::<OP_BITS>;
        let st = constant::<ST_BITS>;
        MappingCache {
            clock: Default::default(),
            op: Default::default(),
            lookup: Default::default(),
            req_valid: Default::default(),
            req_key: Default::default(),
            req_tag: Default::default(),
            valid: (0..entries).map(|_| Default::default()).collect(),
            ram0: ram_vec(),
            ram1: ram_vec(),
            ram2: ram_vec(),
            pend: Default::default(),
            step: Default::default(),
            kread: Default::default(),
            l_key: Default::default(),
            l_page: Default::default(),
            l_attr: Default::default(),
            l_slot: Default::default(),
            w_key: Default::default(),
            l_mask: Default::default(),
            l_group: Default::default(),
            l_above: Default::default(),
            m0: Default::default(),
            m1: Default::default(),
            m2: Default::default(),
            valid_vec: Default::default(),
            byp: Default::default(),
            byp_wins: Default::default(),
            ram_vec: Default::default(),
            ram_slot: Default::default(),
            nib_any: Default::default(),
            nib_i1: Default::default(),
            nib_i0: Default::default(),
            grp_any: Default::default(),
            grp_idx: Default::default(),
            port_free: Default::default(),
            ra_own: Default::default(),
            ra0: Default::default(),
            ra1: Default::default(),
            ra2: Default::default(),
            we: Default::default(),
            wa0: Default::default(),
            wa1: Default::default(),
            wa2: Default::default(),
            wd0: Default::default(),
            wd1: Default::default(),
            wd2: Default::default(),
            vk_write: Default::default(),
            row_write: Default::default(),
            row_conflict: Default::default(),
            k_row: Default::default(),
            v_row: Default::default(),
            op_ok: Default::default(),
            op_attr: Default::default(),
            op_slot_ok: Default::default(),
            res_valid: Default::default(),
            res_tag: Default::default(),
            res_key: Default::default(),
            res_hit: Default::default(),
            res_slot: Default::default(),
            res_byp: Default::default(),
            res_page: Default::default(),
            res_attr: Default::default(),
            entry_count: constant(entries as u32),
            code_install: code(MAP_OP_INSTALL),
            code_invalidate: code(MAP_OP_INVALIDATE),
            code_flush: code(MAP_OP_FLUSH),
            vrow: constant(VROW),
            krow: constant(KROW),
            one: constant(1),
            first_ram: constant((1 << W) - 1),
            st_read_key: st(ST_READ_KEY),
            st_clear: st(ST_CLEAR),
            st_set: st(ST_SET),
            st_write_key: st(ST_WRITE_KEY),
            writable_lsb: lsb(ATTR_WRITABLE_LSB),
            signal_lsb: lsb(ATTR_SIGNAL_LSB),
            counter_slot_lsb: lsb(ATTR_SLOT_LSB),
            epoch_lsb: lsb(ATTR_EPOCH_LSB),
            _entries: entries,
            _rams: rams,
        }
    }

    pub fn entries(&self) -> usize {
        self._entries
    }
}

impl Logic for MappingCache {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, req_valid, req_key, req_tag, res_valid, res_tag, res_key, res_hit,
            res_slot, res_byp, pend, step, kread, l_key, l_page, l_attr, l_slot, w_key
        );
        for i in 0..self._entries {
            self.valid[i].clock.next = self.clock.val();
            self.valid[i].d.next = self.valid[i].q.val();
        }

        // Stage 1: register the request (its chunk rows are read at the same edge).
        self.req_valid.d.next = self.lookup.valid.val();
        self.req_key.d.next = self.lookup.key.val();
        self.req_tag.d.next = self.lookup.tag.val();

        // Stage 2: AND of the three chunk rows and the valid bits gives the entries in the
        // RAMs that match; the pending install is compared apart (below), so that the value
        // row's address depends on the RAM rows and the valid bits only.
        self.m0.next = 0.into();
        self.m1.next = 0.into();
        self.m2.next = 0.into();
        // (bit by bit: hdl_gen's bit_cast cannot take an element of a Vec inside a loop)
        for i in 0..self._rams {
            for b in 0..16 {
                self.m0.next = self
                    .m0
                    .val()
                    .replace_bit(i * 16 + b, self.ram0[i].read_data.val().get_bit(b));
                self.m1.next = self
                    .m1
                    .val()
                    .replace_bit(i * 16 + b, self.ram1[i].read_data.val().get_bit(b));
                self.m2.next = self
                    .m2
                    .val()
                    .replace_bit(i * 16 + b, self.ram2[i].read_data.val().get_bit(b));
            }
        }
        self.valid_vec.next = 0.into();
        for i in 0..self._entries {
            self.valid_vec.next = self.valid_vec.val().replace_bit(i, self.valid[i].q.val());
        }
        self.ram_vec.next = self.m0.val() & self.m1.val() & self.m2.val() & self.valid_vec.val();
        // The highest matching entry in the RAMs, by a radix-4 tree (the value row's address
        // waits for it): per nibble of entries, whether one matches and the highest one's
        // index in it; per group of 16, the same over its nibbles; then over the groups.
        // Every loop covers all 64 bits (unused entries are constant 0).
        self.nib_any.next = 0.into();
        self.nib_i1.next = 0.into();
        self.nib_i0.next = 0.into();
        for n in 0..16 {
            self.nib_any.next = self.nib_any.val().replace_bit(
                n,
                self.ram_vec.val().get_bit(4 * n + 3)
                    | self.ram_vec.val().get_bit(4 * n + 2)
                    | self.ram_vec.val().get_bit(4 * n + 1)
                    | self.ram_vec.val().get_bit(4 * n),
            );
            self.nib_i1.next = self.nib_i1.val().replace_bit(
                n,
                self.ram_vec.val().get_bit(4 * n + 3) | self.ram_vec.val().get_bit(4 * n + 2),
            );
            self.nib_i0.next = self.nib_i0.val().replace_bit(
                n,
                self.ram_vec.val().get_bit(4 * n + 3)
                    | (!self.ram_vec.val().get_bit(4 * n + 2)
                        & self.ram_vec.val().get_bit(4 * n + 1)),
            );
        }
        self.grp_any.next = 0.into();
        self.grp_idx.next = 0.into();
        for g in 0..4 {
            self.grp_any.next = self.grp_any.val().replace_bit(
                g,
                self.nib_any.val().get_bit(4 * g + 3)
                    | self.nib_any.val().get_bit(4 * g + 2)
                    | self.nib_any.val().get_bit(4 * g + 1)
                    | self.nib_any.val().get_bit(4 * g),
            );
            self.grp_idx.next = self.grp_idx.val().replace_bit(
                4 * g + 3,
                self.nib_any.val().get_bit(4 * g + 3) | self.nib_any.val().get_bit(4 * g + 2),
            );
            self.grp_idx.next = self.grp_idx.val().replace_bit(
                4 * g + 2,
                self.nib_any.val().get_bit(4 * g + 3)
                    | (!self.nib_any.val().get_bit(4 * g + 2)
                        & self.nib_any.val().get_bit(4 * g + 1)),
            );
            self.grp_idx.next = self.grp_idx.val().replace_bit(
                4 * g + 1,
                ((self.nib_any.val().get_bit(4 * g + 3) | self.nib_any.val().get_bit(4 * g + 2))
                    & ((self.nib_any.val().get_bit(4 * g + 3)
                        & self.nib_i1.val().get_bit(4 * g + 3))
                        | (!self.nib_any.val().get_bit(4 * g + 3)
                            & self.nib_i1.val().get_bit(4 * g + 2))))
                    | (!(self.nib_any.val().get_bit(4 * g + 3)
                        | self.nib_any.val().get_bit(4 * g + 2))
                        & ((self.nib_any.val().get_bit(4 * g + 1)
                            & self.nib_i1.val().get_bit(4 * g + 1))
                            | (!self.nib_any.val().get_bit(4 * g + 1)
                                & self.nib_i1.val().get_bit(4 * g)))),
            );
            self.grp_idx.next = self.grp_idx.val().replace_bit(
                4 * g,
                ((self.nib_any.val().get_bit(4 * g + 3) | self.nib_any.val().get_bit(4 * g + 2))
                    & ((self.nib_any.val().get_bit(4 * g + 3)
                        & self.nib_i0.val().get_bit(4 * g + 3))
                        | (!self.nib_any.val().get_bit(4 * g + 3)
                            & self.nib_i0.val().get_bit(4 * g + 2))))
                    | (!(self.nib_any.val().get_bit(4 * g + 3)
                        | self.nib_any.val().get_bit(4 * g + 2))
                        & ((self.nib_any.val().get_bit(4 * g + 1)
                            & self.nib_i0.val().get_bit(4 * g + 1))
                            | (!self.nib_any.val().get_bit(4 * g + 1)
                                & self.nib_i0.val().get_bit(4 * g)))),
            );
        }
        self.ram_slot.next = 0.into();
        self.ram_slot.next = self.ram_slot.val().replace_bit(
            5,
            self.grp_any.val().get_bit(3) | self.grp_any.val().get_bit(2),
        );
        self.ram_slot.next = self.ram_slot.val().replace_bit(
            4,
            self.grp_any.val().get_bit(3)
                | (!self.grp_any.val().get_bit(2) & self.grp_any.val().get_bit(1)),
        );
        for b in 0..4 {
            self.ram_slot.next = self.ram_slot.val().replace_bit(
                b,
                (self.grp_any.val().get_bit(3) & self.grp_idx.val().get_bit(12 + b))
                    | (!self.grp_any.val().get_bit(3)
                        & self.grp_any.val().get_bit(2)
                        & self.grp_idx.val().get_bit(8 + b))
                    | (!self.grp_any.val().get_bit(3)
                        & !self.grp_any.val().get_bit(2)
                        & self.grp_any.val().get_bit(1)
                        & self.grp_idx.val().get_bit(4 + b))
                    | (!self.grp_any.val().get_bit(3)
                        & !self.grp_any.val().get_bit(2)
                        & !self.grp_any.val().get_bit(1)
                        & self.grp_idx.val().get_bit(b)),
            );
        }
        // The pending install (its entry is not valid, so it is never in `ram_vec`) wins when
        // its key matches and no higher entry in the RAMs does; its value is in the latch.
        // `l_above` decodes the latched slot (registers only).
        self.l_above.next = 0.into();
        for i in 1..self._entries {
            if i.to_bits::<SLOT_BITS>() > self.l_slot.q.val() {
                self.l_above.next = self.l_above.val().replace_bit(i, true);
            }
        }
        self.byp.next = self.pend.q.val() & (self.l_key.q.val() == self.req_key.q.val());
        self.byp_wins.next = self.byp.val() & !(self.ram_vec.val() & self.l_above.val()).any();
        // A newer lookup preempts this one (it takes the read port).
        self.res_valid.d.next = self.req_valid.q.val() & !self.lookup.valid.val();
        self.res_tag.d.next = self.req_tag.q.val();
        self.res_key.d.next = self.req_key.q.val();
        self.res_hit.d.next = self.byp.val() | self.grp_any.val().any();
        self.res_slot.d.next = self.ram_slot.val();
        if self.byp_wins.val() {
            self.res_slot.d.next = self.l_slot.q.val();
        }
        self.res_byp.d.next = self.byp_wins.val();

        // Read port: a new lookup's chunk rows, else the value row of the lookup in stage 2
        // (the RAMs' winner: a win of the pending install reads a row it does not use), else
        // the installing entry's key row. The new lookup comes last: it is the requester's
        // late signal.
        self.k_row.next = self.krow.val() | bit_cast::<A, SLOT_BITS>(self.l_slot.q.val());
        self.v_row.next = self.vrow.val() | bit_cast::<A, SLOT_BITS>(self.l_slot.q.val());
        self.port_free.next = !self.lookup.valid.val() & !self.req_valid.q.val();
        self.ra_own.next = self.k_row.val();
        if self.req_valid.q.val() {
            self.ra_own.next = self.vrow.val() | bit_cast::<A, SLOT_BITS>(self.ram_slot.val());
        }
        self.ra0.next = self.ra_own.val();
        self.ra1.next = self.ra_own.val();
        self.ra2.next = self.ra_own.val();
        if self.lookup.valid.val() {
            self.ra0.next = bit_cast::<A, 7>(self.lookup.key.val().get_bits::<7>(0));
            self.ra1.next = bit_cast::<A, 7>(self.lookup.key.val().get_bits::<7>(7));
            self.ra2.next = bit_cast::<A, 6>(self.lookup.key.val().get_bits::<6>(14));
        }

        // Install steps (write port). The key row is read in a `ReadKey` cycle whose port is
        // free; `kread` records it, so the step register does not wait on the requester's
        // signals, and the next cycle (`Capture`) takes the old key from the read data.
        self.kread.d.next = false;
        self.we.next = false;
        self.row_write.next = false;
        self.vk_write.next = false;
        // Chunk-row writes: bit s of the rows named by `w_key` (0 in `Clear`, 1 in `Set`).
        self.wa0.next = bit_cast::<A, 7>(self.w_key.q.val().get_bits::<7>(0));
        self.wa1.next = bit_cast::<A, 7>(self.w_key.q.val().get_bits::<7>(7));
        self.wa2.next = bit_cast::<A, 6>(self.w_key.q.val().get_bits::<6>(14));
        self.wd0.next = 0xFFFF.into();
        self.wd1.next = 0xFFFF.into();
        self.wd2.next = 0xFFFF.into();
        if self.pend.q.val() {
            if self.step.q.val() == self.st_read_key.val() {
                if self.kread.q.val() {
                    // Capture.
                    self.w_key.d.next =
                        (bit_cast::<PAGE_BITS, 6>(self.ram2[0].read_data.val().get_bits::<6>(0))
                            << 14)
                            | (bit_cast::<PAGE_BITS, 7>(
                                self.ram1[0].read_data.val().get_bits::<7>(0),
                            ) << 7)
                            | bit_cast::<PAGE_BITS, 7>(
                                self.ram0[0].read_data.val().get_bits::<7>(0),
                            );
                    self.step.d.next = self.st_clear.val();
                } else {
                    // The value rows (rewritten while waiting for the read port).
                    self.we.next = true;
                    self.vk_write.next = true;
                    self.wa0.next = self.v_row.val();
                    self.wa1.next = self.v_row.val();
                    self.wa2.next = self.v_row.val();
                    self.wd0.next = self.l_page.q.val().get_bits::<W>(0);
                    self.wd1.next = (bit_cast::<W, 12>(self.l_attr.q.val().get_bits::<12>(0)) << 4)
                        | bit_cast::<W, 4>(self.l_page.q.val().get_bits::<4>(16));
                    self.wd2.next = bit_cast::<W, 4>(self.l_attr.q.val().get_bits::<4>(12));
                    self.kread.d.next = self.port_free.val();
                }
            }
            if self.step.q.val() == self.st_clear.val() {
                self.row_write.next = true;
                self.wd0.next = 0.into();
                self.wd1.next = 0.into();
                self.wd2.next = 0.into();
            }
            if self.step.q.val() == self.st_set.val() {
                self.row_write.next = true;
            }
            if self.step.q.val() == self.st_write_key.val() {
                self.we.next = true;
                self.vk_write.next = true;
                self.wa0.next = self.k_row.val();
                self.wa1.next = self.k_row.val();
                self.wa2.next = self.k_row.val();
                self.wd0.next = bit_cast::<W, 7>(self.l_key.q.val().get_bits::<7>(0));
                self.wd1.next = bit_cast::<W, 7>(self.l_key.q.val().get_bits::<7>(7));
                self.wd2.next = bit_cast::<W, 6>(self.l_key.q.val().get_bits::<6>(14));
                self.pend.d.next = false;
                for i in 0..self._entries {
                    if self.l_slot.q.val() == i.to_bits::<SLOT_BITS>() {
                        self.valid[i].d.next = true;
                    }
                }
            }
        }
        // A chunk-row write waits while a lookup reads one of its rows in the same edge.
        // Only a new lookup reads chunk rows (value and key rows are above them), so the
        // compare takes the lookup port's key and the `w_key` register (short paths).
        self.row_conflict.next = self.lookup.valid.val()
            & ((self.w_key.q.val().get_bits::<7>(0) == self.lookup.key.val().get_bits::<7>(0))
                | (self.w_key.q.val().get_bits::<7>(7) == self.lookup.key.val().get_bits::<7>(7))
                | (self.w_key.q.val().get_bits::<6>(14)
                    == self.lookup.key.val().get_bits::<6>(14)));
        if self.row_write.val() & !self.row_conflict.val() {
            self.we.next = true;
            if self.step.q.val() == self.st_clear.val() {
                self.step.d.next = self.st_set.val();
                self.w_key.d.next = self.l_key.q.val();
            } else {
                self.step.d.next = self.st_write_key.val();
            }
        }
        // Chunk-row writes: bit s of the RAM of entry s's group.
        self.l_mask.next = self.one.val() << self.l_slot.q.val().get_bits::<4>(0);
        self.l_group.next = self.l_slot.q.val().get_bits::<2>(4);
        for g in 0..self._rams {
            self.ram0[g].clock.next = self.clock.val();
            self.ram1[g].clock.next = self.clock.val();
            self.ram2[g].clock.next = self.clock.val();
            self.ram0[g].read_address.next = self.ra0.val();
            self.ram1[g].read_address.next = self.ra1.val();
            self.ram2[g].read_address.next = self.ra2.val();
            self.ram0[g].write_enable.next = self.we.val();
            self.ram1[g].write_enable.next = self.we.val();
            self.ram2[g].write_enable.next = self.we.val();
            self.ram0[g].write_address.next = self.wa0.val();
            self.ram1[g].write_address.next = self.wa1.val();
            self.ram2[g].write_address.next = self.wa2.val();
            self.ram0[g].write_data.next = self.wd0.val();
            self.ram1[g].write_data.next = self.wd1.val();
            self.ram2[g].write_data.next = self.wd2.val();
            self.ram0[g].write_mask.next = 0.into();
            if self.l_group.val() == g.to_bits::<2>() {
                self.ram0[g].write_mask.next = self.l_mask.val();
            }
            if self.vk_write.val() {
                self.ram0[g].write_mask.next = self.first_ram.val().get_bits::<W>(g * 16);
            }
            self.ram1[g].write_mask.next = 0.into();
            if self.l_group.val() == g.to_bits::<2>() {
                self.ram1[g].write_mask.next = self.l_mask.val();
            }
            if self.vk_write.val() {
                self.ram1[g].write_mask.next = self.first_ram.val().get_bits::<W>(g * 16);
            }
            self.ram2[g].write_mask.next = 0.into();
            if self.l_group.val() == g.to_bits::<2>() {
                self.ram2[g].write_mask.next = self.l_mask.val();
            }
            if self.vk_write.val() {
                self.ram2[g].write_mask.next = self.first_ram.val().get_bits::<W>(g * 16);
            }
        }

        // Host ops (refused while an install is in progress): invalidate and flush clear
        // valid bits; install clears the entry's valid bit and starts the steps.
        self.op_ok.next = self.op.valid.val() & !self.pend.q.val();
        self.op_slot_ok.next =
            bit_cast::<7, SLOT_BITS>(self.op.slot.val()) < self.entry_count.val();
        self.op_attr.next = (bit_cast::<ATTR_WIDTH, 1>(self.op.writable.val().into())
            << self.writable_lsb.val())
            | (bit_cast::<ATTR_WIDTH, 1>(self.op.signal.val().into()) << self.signal_lsb.val())
            | (bit_cast::<ATTR_WIDTH, COUNTER_SLOT_BITS>(self.op.counter_slot.val())
                << self.counter_slot_lsb.val())
            | (bit_cast::<ATTR_WIDTH, EPOCH_BITS>(self.op.epoch.val()) << self.epoch_lsb.val());
        if self.op_ok.val() {
            if self.op.code.val() == self.code_flush.val() {
                for i in 0..self._entries {
                    self.valid[i].d.next = false;
                }
            }
            if self.op_slot_ok.val()
                & ((self.op.code.val() == self.code_invalidate.val())
                    | (self.op.code.val() == self.code_install.val()))
            {
                for i in 0..self._entries {
                    if self.op.slot.val() == i.to_bits::<SLOT_BITS>() {
                        self.valid[i].d.next = false;
                    }
                }
            }
            if self.op_slot_ok.val() & (self.op.code.val() == self.code_install.val()) {
                self.pend.d.next = true;
                self.step.d.next = self.st_read_key.val();
                self.l_key.d.next = self.op.key.val();
                self.l_page.d.next = self.op.page.val();
                self.l_attr.d.next = self.op_attr.val();
                self.l_slot.d.next = self.op.slot.val();
            }
        }
        self.op.busy.next = self.pend.q.val();
        self.lookup.hold.next = self.pend.q.val();

        // Outputs: the value rows, the latch for a hit on the pending install, 0 on a miss.
        self.lookup.result_valid.next = self.res_valid.q.val();
        self.lookup.result_tag.next = self.res_tag.q.val();
        self.lookup.result_key.next = self.res_key.q.val();
        self.lookup.result_hit.next = self.res_hit.q.val();
        self.lookup.result_slot.next = self.res_slot.q.val();
        self.res_page.next =
            (bit_cast::<PAGE_BITS, 4>(self.ram1[0].read_data.val().get_bits::<4>(0)) << 16)
                | bit_cast::<PAGE_BITS, W>(self.ram0[0].read_data.val());
        self.res_attr.next =
            (bit_cast::<ATTR_WIDTH, 4>(self.ram2[0].read_data.val().get_bits::<4>(0)) << 12)
                | bit_cast::<ATTR_WIDTH, 12>(self.ram1[0].read_data.val().get_bits::<12>(4));
        if self.res_byp.q.val() {
            self.res_page.next = self.l_page.q.val();
            self.res_attr.next = self.l_attr.q.val();
        }
        if !self.res_hit.q.val() {
            self.res_page.next = 0.into();
            self.res_attr.next = 0.into();
        }
        self.lookup.result_page.next = self.res_page.val();
        self.lookup.result_writable.next =
            self.res_attr.val().get_bit(self.writable_lsb.val().index());
        self.lookup.result_signal.next = self.res_attr.val().get_bit(self.signal_lsb.val().index());
        self.lookup.result_counter_slot.next = self
            .res_attr
            .val()
            .get_bits::<COUNTER_SLOT_BITS>(self.counter_slot_lsb.val().index());
        self.lookup.result_epoch.next = self
            .res_attr
            .val()
            .get_bits::<EPOCH_BITS>(self.epoch_lsb.val().index());
    }
}

fn constant<const N: usize>(value: u32) -> Constant<Bits<N>> {
    Constant::new((value as u64).into())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod synthesis {
    use super::*;
    use vassa_hdl_tools::hwcheck::{yosys_synth, Family};

    /// Guards the block-RAM CAM's savings: keys in registers with a comparator per entry took
    /// 521 LUT4 and 408 flip-flops (the RX cache as synthesized in the core); the CAM takes
    /// 501 and 158.
    #[test]
    fn sixteen_entries_fit_the_ice40_budget() {
        let mut c = MappingCache::new(16);
        c.connect_all();
        let r = yosys_synth(&generate_verilog(&c), "top", Family::Ice40).unwrap();
        assert_eq!(r.block_rams, 3, "{r:?}");
        assert!(r.flip_flops <= 170 && r.luts <= 520, "{r:?}");
    }
}
