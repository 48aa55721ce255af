//! TX packetizer: turns packet commands from the TX MMU into link packets.
//!
//! Two engines share a payload FIFO:
//!
//! * The **reader** takes one command at a time from the `cmd_*` port, queues what the sender
//!   needs (NVA and a packed "meta" word, 64 bits) in a command queue, and issues memory read
//!   bursts for exactly the words the payload covers: from the first word to the end of its
//!   line, then whole lines, then up to the last word — never crossing a line. It keeps the
//!   address of the payload's last byte, so each burst length comes from a line comparison and
//!   two small subtractions, with no word counter. A burst goes out only while `outstanding`
//!   (words requested and not yet consumed) leaves room for a whole line in the payload FIFO,
//!   so returning data is never back-pressured. Because the reader works ahead of the sender
//!   by up to [`CMD_QUEUE_DEPTH`] packets, the next packets are prefetched while one is sent.
//! * The **sender** starts a packet once its command is queued and at least one of its words
//!   has arrived (`fill` counts words received and not yet consumed; the FIFO shows a written
//!   word two cycles later, exactly when the first payload word is due after the two header
//!   words). It emits header word 0 (NVA), header word 1 (fields at the positions of
//!   `spec::packet::H1_*`), the payload realigned so that byte 0 is in lane 0 (a `prev`
//!   register keeps the previous memory word), zero-padded in the last word, and the trailer.
//!   If data is late it holds `tx_valid` low mid-packet (cut-through); no idle cycle is added
//!   between packets when the data is there.
//!
//! The CRC is computed from the *registered* link word (`tx_data` → [`Crc32Step`] → state), so
//! the realignment datapath and the CRC network are in different pipeline stages; the trailer
//! is `!step(state, last word) ^ epoch_seed(epoch)`.
//!
//! The payload FIFO is a [`LeanFifo`] (`lean_fifo.rs`), the command queue a [`RowFifo`]
//! (`row_fifo.rs`), both on block RAM without read-during-write bypass logic.
//! Commands must satisfy the TX MMU contract: `cmd_length` in 1..=max_payload and the payload
//! inside one 4 KiB page (the read address counts up inside the page only).

use crate::crc32::Crc32Step;
use crate::lean_fifo::LeanFifo;
use crate::row_fifo::RowFifo;
use crate::spec::packet::{
    epoch_seed, CRC_INIT_STATE, H0_NVA, H1_EPOCH, H1_FIRST, H1_LAST, H1_LENGTH, H1_SRC, H1_USER,
};
use crate::spec::params::{CoreParams, DATAPATH_BYTES, PAGE_SIZE};
use rust_hdl::prelude::*;

/// Words of the payload FIFO (one block RAM on iCE40 and Spartan-6).
pub const PAYLOAD_FIFO_WORDS: usize = 64;
/// Commands the reader may queue ahead of the sender.
pub const CMD_QUEUE_DEPTH: usize = 16;

/// Payload FIFO: 32-bit words, 2^6 entries.
type PayloadFifo = LeanFifo<32, { clog2(PAYLOAD_FIFO_WORDS) }, { clog2(PAYLOAD_FIFO_WORDS) + 1 }>;
/// Command queue: NVA in bits 31:0, the meta word in bits 63:32; four 16-bit rows per entry
/// (one iCE40 block RAM instead of four). The TX MMU sends a command at most every other
/// cycle and a packet takes at least four link cycles, so the queue's write rate (one entry
/// per four cycles) and head refill time (four cycles after a pop) cost no link cycle.
type CmdQueue = RowFifo<64>;
/// Block RAM rows per command queue entry.
const CMD_QUEUE_ROWS: usize = 4;
const _: () = assert!(CMD_QUEUE_DEPTH == crate::row_fifo::ROW_FIFO_DEPTH);

#[derive(Copy, Clone, PartialEq, Eq, Debug, LogicState)]
pub enum SendState {
    /// Waiting for a command whose data has started to arrive; emits header word 0.
    Idle,
    /// Emits header word 1; pre-loads the first memory word of an unaligned payload.
    Header1,
    /// Emits payload words as data allows.
    Payload,
    /// Emits the trailer.
    Trailer,
}

#[derive(LogicBlock)]
pub struct Packetizer {
    pub clock: Signal<In, Clock>,
    // Command in (from TxMmu).
    pub cmd_valid: Signal<In, Bit>,
    pub cmd_ready: Signal<Out, Bit>,
    pub cmd_addr: Signal<In, Bits<32>>,
    pub cmd_length: Signal<In, Bits<13>>,
    pub cmd_nva: Signal<In, Bits<32>>,
    pub cmd_epoch: Signal<In, Bits<8>>,
    pub cmd_counter_slot: Signal<In, Bits<6>>,
    pub cmd_first: Signal<In, Bit>,
    pub cmd_last: Signal<In, Bit>,
    pub cmd_user: Signal<In, Bit>,
    pub node_id: Signal<In, Bits<8>>,
    // Memory read port.
    pub rd_req_valid: Signal<Out, Bit>,
    pub rd_req_addr: Signal<Out, Bits<32>>,
    pub rd_req_len: Signal<Out, Bits<8>>,
    pub rd_req_ready: Signal<In, Bit>,
    pub rd_data_valid: Signal<In, Bit>,
    pub rd_data: Signal<In, Bits<32>>,
    // Link TX (registered).
    pub tx_valid: Signal<Out, Bit>,
    pub tx_sop: Signal<Out, Bit>,
    pub tx_eop: Signal<Out, Bit>,
    pub tx_data: Signal<Out, Bits<32>>,
    // Counter event, with the trailer.
    pub sent_event: Signal<Out, Bit>,
    pub sent_slot: Signal<Out, Bits<6>>,
    pub sent_bytes: Signal<Out, Bits<13>>,

    // Storage.
    payload: PayloadFifo,
    cmd_queue: CmdQueue,
    crc: Crc32Step,

    // Reader.
    rd_busy: DFF<Bit>,
    rd_addr: DFF<Bits<32>>,
    rd_end: DFF<Bits<32>>,
    outstanding: DFF<Bits<7>>,
    cmd_take: Signal<Local, Bit>,
    cmd_meta: Signal<Local, Bits<32>>,
    line_diff: Signal<Local, Bits<32>>,
    same_line: Signal<Local, Bit>,
    line_pos: Signal<Local, Bits<8>>,
    end_pos: Signal<Local, Bits<8>>,
    burst: Signal<Local, Bits<8>>,
    can_req: Signal<Local, Bit>,
    req_go: Signal<Local, Bit>,
    out_add: Signal<Local, Bits<7>>,

    // Sender.
    state: DFF<SendState>,
    meta: DFF<Bits<32>>,
    pcount: DFF<Bits<11>>,
    prev: DFF<Bits<32>>,
    loaded: DFF<Bit>,
    fill: DFF<Bits<7>>,
    crc_state: DFF<Bits<32>>,
    tx_valid_r: DFF<Bit>,
    tx_sop_r: DFF<Bit>,
    tx_eop_r: DFF<Bit>,
    tx_data_r: DFF<Bits<32>>,
    sent_r: DFF<Bit>,
    start: Signal<Local, Bit>,
    pop: Signal<Local, Bit>,
    have: Signal<Local, Bit>,
    head: Signal<Local, Bits<32>>,
    offset: Signal<Local, Bits<2>>,
    tail: Signal<Local, Bits<2>>,
    extra_sum: Signal<Local, Bits<3>>,
    need_head: Signal<Local, Bit>,
    aligned: Signal<Local, Bits<32>>,
    last_mask: Signal<Local, Bits<32>>,
    word: Signal<Local, Bits<32>>,
    h1: Signal<Local, Bits<32>>,
    epoch32: Signal<Local, Bits<32>>,
    seed: Signal<Local, Bits<32>>,

    // Constants.
    line_mask: Constant<Bits<32>>,
    line_in_page: Constant<Bits<32>>,
    line_words: Constant<Bits<8>>,
    credit_limit: Constant<Bits<7>>,
    word_mask: Constant<Bits<32>>,
    page_mask: Constant<Bits<32>>,
    crc_init: Constant<Bits<32>>,
    seed_base: Constant<Bits<32>>,
    h1_length_lsb: Constant<Bits<8>>,
    h1_first_lsb: Constant<Bits<8>>,
    h1_last_lsb: Constant<Bits<8>>,
    h1_user_lsb: Constant<Bits<8>>,
    h1_src_lsb: Constant<Bits<8>>,
    h1_epoch_lsb: Constant<Bits<8>>,
}

impl Packetizer {
    pub fn new(params: &CoreParams) -> Self {
        params.validate().expect("valid core parameters");
        // The port widths are fixed by the architecture; the header layout comes from the spec.
        assert_eq!(
            (H0_NVA.lsb, H0_NVA.width),
            (0, 32),
            "header word 0 is the NVA"
        );
        assert_eq!(H1_LENGTH.width, 13, "cmd_length is 13 bits");
        assert_eq!(H1_FIRST.width, 1);
        assert_eq!(H1_LAST.width, 1);
        assert_eq!(H1_USER.width, 1);
        assert_eq!(H1_SRC.width, 8, "node_id is 8 bits");
        assert_eq!(H1_EPOCH.width, 8, "cmd_epoch is 8 bits");
        // The hardware forms the seed as base ^ (epoch replicated into every byte).
        for e in 0..=255u8 {
            assert_eq!(
                epoch_seed(e),
                epoch_seed(0) ^ u32::from_le_bytes([e; 4]),
                "epoch_seed is no longer base ^ replicated epoch"
            );
        }
        assert!(params.line_words() as usize <= PAYLOAD_FIFO_WORDS);
        let lsb = |f: crate::spec::Field| Constant::new((f.lsb as u64).into());
        Packetizer {
            clock: Default::default(),
            cmd_valid: Default::default(),
            cmd_ready: Default::default(),
            cmd_addr: Default::default(),
            cmd_length: Default::default(),
            cmd_nva: Default::default(),
            cmd_epoch: Default::default(),
            cmd_counter_slot: Default::default(),
            cmd_first: Default::default(),
            cmd_last: Default::default(),
            cmd_user: Default::default(),
            node_id: Default::default(),
            rd_req_valid: Default::default(),
            rd_req_addr: Default::default(),
            rd_req_len: Default::default(),
            rd_req_ready: Default::default(),
            rd_data_valid: Default::default(),
            rd_data: Default::default(),
            tx_valid: Default::default(),
            tx_sop: Default::default(),
            tx_eop: Default::default(),
            tx_data: Default::default(),
            sent_event: Default::default(),
            sent_slot: Default::default(),
            sent_bytes: Default::default(),
            payload: Default::default(),
            cmd_queue: RowFifo::new(CMD_QUEUE_ROWS),
            crc: Default::default(),
            rd_busy: Default::default(),
            rd_addr: Default::default(),
            rd_end: Default::default(),
            outstanding: Default::default(),
            cmd_take: Default::default(),
            cmd_meta: Default::default(),
            line_diff: Default::default(),
            same_line: Default::default(),
            line_pos: Default::default(),
            end_pos: Default::default(),
            burst: Default::default(),
            can_req: Default::default(),
            req_go: Default::default(),
            out_add: Default::default(),
            state: Default::default(),
            meta: Default::default(),
            pcount: Default::default(),
            prev: Default::default(),
            loaded: Default::default(),
            fill: Default::default(),
            crc_state: Default::default(),
            tx_valid_r: Default::default(),
            tx_sop_r: Default::default(),
            tx_eop_r: Default::default(),
            tx_data_r: Default::default(),
            sent_r: Default::default(),
            start: Default::default(),
            pop: Default::default(),
            have: Default::default(),
            head: Default::default(),
            offset: Default::default(),
            tail: Default::default(),
            extra_sum: Default::default(),
            need_head: Default::default(),
            aligned: Default::default(),
            last_mask: Default::default(),
            word: Default::default(),
            h1: Default::default(),
            epoch32: Default::default(),
            seed: Default::default(),
            line_mask: Constant::new(((params.line_bytes - 1) as u64).into()),
            line_in_page: Constant::new(
                (((PAGE_SIZE - 1) & !(params.line_bytes - 1)) as u64).into(),
            ),
            line_words: Constant::new((params.line_words() as u64).into()),
            credit_limit: Constant::new(
                ((PAYLOAD_FIFO_WORDS - params.line_words() as usize) as u64).into(),
            ),
            word_mask: Constant::new(((!(DATAPATH_BYTES - 1)) as u64).into()),
            page_mask: Constant::new(((!(PAGE_SIZE - 1)) as u64).into()),
            crc_init: Constant::new((CRC_INIT_STATE as u64).into()),
            seed_base: Constant::new((epoch_seed(0) as u64).into()),
            h1_length_lsb: lsb(H1_LENGTH),
            h1_first_lsb: lsb(H1_FIRST),
            h1_last_lsb: lsb(H1_LAST),
            h1_user_lsb: lsb(H1_USER),
            h1_src_lsb: lsb(H1_SRC),
            h1_epoch_lsb: lsb(H1_EPOCH),
        }
    }
}

impl Logic for Packetizer {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            rd_busy,
            rd_addr,
            rd_end,
            outstanding,
            state,
            meta,
            pcount,
            prev,
            loaded,
            fill,
            crc_state,
            tx_valid_r,
            tx_sop_r,
            tx_eop_r,
            tx_data_r,
            sent_r
        );
        clock!(self, clock, payload, cmd_queue);

        // ---------------- Reader: commands in, read bursts out ----------------
        self.cmd_take.next =
            self.cmd_valid.val() & !self.rd_busy.q.val() & !self.cmd_queue.full.val();
        self.cmd_ready.next = !self.rd_busy.q.val() & !self.cmd_queue.full.val();
        self.cmd_meta.next = bit_cast::<32, 13>(self.cmd_length.val())
            | (bit_cast::<32, 1>(self.cmd_first.val().into()) << 13)
            | (bit_cast::<32, 1>(self.cmd_last.val().into()) << 14)
            | (bit_cast::<32, 1>(self.cmd_user.val().into()) << 15)
            | (bit_cast::<32, 8>(self.cmd_epoch.val()) << 16)
            | (bit_cast::<32, 6>(self.cmd_counter_slot.val()) << 24)
            | (bit_cast::<32, 2>(self.cmd_addr.val().get_bits::<2>(0)) << 30);
        self.cmd_queue.data_in.next = (bit_cast::<64, 32>(self.cmd_meta.val()) << 32)
            | bit_cast::<64, 32>(self.cmd_nva.val());
        self.cmd_queue.write.next = self.cmd_take.val();

        // Next burst: the rest of the current line, or up to the last word if that is in
        // this line (then it is the last burst of the packet). Every burst after the first
        // starts a line. Packets never cross a page, so only in-page bits are compared.
        self.line_diff.next =
            (self.rd_addr.q.val() ^ self.rd_end.q.val()) & self.line_in_page.val();
        self.same_line.next = !self.line_diff.val().any();
        self.line_pos.next = bit_cast::<8, 32>((self.rd_addr.q.val() & self.line_mask.val()) >> 2);
        self.end_pos.next = bit_cast::<8, 32>((self.rd_end.q.val() & self.line_mask.val()) >> 2);
        if self.same_line.val() {
            self.burst.next = self.end_pos.val() - self.line_pos.val() + 1;
        } else {
            self.burst.next = self.line_words.val() - self.line_pos.val();
        }
        // Request only when the FIFO can take every beat requested and not yet consumed. The
        // check reserves a whole line whatever the burst, which keeps `outstanding` off the
        // burst arithmetic (shorter carry chains).
        self.can_req.next =
            self.rd_busy.q.val() & (self.outstanding.q.val() <= self.credit_limit.val());
        self.rd_req_valid.next = self.can_req.val();
        self.req_go.next = self.can_req.val() & self.rd_req_ready.val();
        self.rd_req_addr.next = self.rd_addr.q.val();
        self.rd_req_len.next = self.burst.val();
        if self.cmd_take.val() {
            self.rd_busy.d.next = true;
            self.rd_addr.d.next = self.cmd_addr.val() & self.word_mask.val();
            self.rd_end.d.next =
                self.cmd_addr.val() + bit_cast::<32, 13>(self.cmd_length.val()) - 1;
        }
        self.out_add.next = 0.into();
        if self.req_go.val() {
            self.out_add.next = bit_cast::<7, 8>(self.burst.val());
            // Start of the next line, inside the page.
            self.rd_addr.d.next = (self.rd_addr.q.val() & self.page_mask.val())
                | (((self.rd_addr.q.val() | self.line_mask.val()) + 1) & !self.page_mask.val());
            if self.same_line.val() {
                self.rd_busy.d.next = false;
            }
        }

        // ---------------- Sender: payload FIFO and queues to link words ----------------
        self.payload.write.next = self.rd_data_valid.val();
        self.payload.data_in.next = self.rd_data.val();
        self.head.next = self.payload.data_out.val();
        self.have.next = !self.payload.empty.val();

        // Fields of the packet being sent.
        self.offset.next = self.meta.q.val().get_bits::<2>(30);
        // (length - 1) mod 4: only the low two length bits matter.
        self.tail.next = self.meta.q.val().get_bits::<2>(0) - 1;
        // Carry out of offset + tail: the payload covers one more memory word than link words.
        self.extra_sum.next =
            bit_cast::<3, 2>(self.offset.val()) + bit_cast::<3, 2>(self.tail.val());
        // Whether the word being formed consumes a new memory word.
        self.need_head.next =
            !self.offset.val().any() | self.pcount.q.val().any() | (self.extra_sum.val() >= 4);

        // Realignment: payload byte 0 to lane 0.
        self.aligned.next = self.head.val();
        match self.offset.val().index() {
            1 => {
                self.aligned.next = (self.prev.q.val() >> 8) | (self.head.val() << 24);
            }
            2 => {
                self.aligned.next = (self.prev.q.val() >> 16) | (self.head.val() << 16);
            }
            3 => {
                self.aligned.next = (self.prev.q.val() >> 24) | (self.head.val() << 8);
            }
            _ => {}
        }
        // Zero padding of the last payload word.
        self.last_mask.next = 0xFFFF_FFFF_u64.into();
        match self.tail.val().index() {
            0 => {
                self.last_mask.next = 0xFF.into();
            }
            1 => {
                self.last_mask.next = 0xFFFF.into();
            }
            2 => {
                self.last_mask.next = 0xFF_FFFF.into();
            }
            _ => {}
        }
        self.word.next = self.aligned.val();
        if !self.pcount.q.val().any() {
            self.word.next = self.aligned.val() & self.last_mask.val();
        }

        // Header word 1, fields placed as the spec says.
        self.h1.next = (bit_cast::<32, 13>(self.meta.q.val().get_bits::<13>(0))
            << self.h1_length_lsb.val())
            | (bit_cast::<32, 1>(self.meta.q.val().get_bits::<1>(13)) << self.h1_first_lsb.val())
            | (bit_cast::<32, 1>(self.meta.q.val().get_bits::<1>(14)) << self.h1_last_lsb.val())
            | (bit_cast::<32, 1>(self.meta.q.val().get_bits::<1>(15)) << self.h1_user_lsb.val())
            | (bit_cast::<32, 8>(self.node_id.val()) << self.h1_src_lsb.val())
            | (bit_cast::<32, 8>(self.meta.q.val().get_bits::<8>(16)) << self.h1_epoch_lsb.val());
        self.epoch32.next = bit_cast::<32, 8>(self.meta.q.val().get_bits::<8>(16));
        self.seed.next = self.seed_base.val()
            ^ self.epoch32.val()
            ^ (self.epoch32.val() << 8)
            ^ (self.epoch32.val() << 16)
            ^ (self.epoch32.val() << 24);

        self.start.next = false;
        self.pop.next = false;
        self.tx_valid_r.d.next = false;
        self.tx_sop_r.d.next = false;
        self.tx_eop_r.d.next = false;
        self.sent_r.d.next = false;
        match self.state.q.val() {
            SendState::Idle => {
                if !self.cmd_queue.empty.val() & self.fill.q.val().any() {
                    self.start.next = true;
                    self.tx_valid_r.d.next = true;
                    self.tx_sop_r.d.next = true;
                    self.tx_data_r.d.next = self.cmd_queue.data_out.val().get_bits::<32>(0);
                    self.meta.d.next = self.cmd_queue.data_out.val().get_bits::<32>(32);
                    self.pcount.d.next = bit_cast::<11, 13>(
                        (self.cmd_queue.data_out.val().get_bits::<13>(32) - 1) >> 2,
                    );
                    self.loaded.d.next = false;
                    self.state.d.next = SendState::Header1;
                }
            }
            SendState::Header1 => {
                self.tx_valid_r.d.next = true;
                self.tx_data_r.d.next = self.h1.val();
                if self.offset.val().any() & self.have.val() {
                    self.pop.next = true;
                    self.prev.d.next = self.head.val();
                    self.loaded.d.next = true;
                }
                self.state.d.next = SendState::Payload;
            }
            SendState::Payload => {
                if self.offset.val().any() & !self.loaded.q.val() {
                    // The first memory word of an unaligned payload was late.
                    if self.have.val() {
                        self.pop.next = true;
                        self.prev.d.next = self.head.val();
                        self.loaded.d.next = true;
                    }
                } else if !self.need_head.val() | self.have.val() {
                    self.tx_valid_r.d.next = true;
                    self.tx_data_r.d.next = self.word.val();
                    if self.need_head.val() {
                        self.pop.next = true;
                        self.prev.d.next = self.head.val();
                    }
                    if self.pcount.q.val().any() {
                        self.pcount.d.next = self.pcount.q.val() - 1;
                    } else {
                        self.state.d.next = SendState::Trailer;
                    }
                }
            }
            SendState::Trailer => {
                self.tx_valid_r.d.next = true;
                self.tx_eop_r.d.next = true;
                self.sent_r.d.next = true;
                self.tx_data_r.d.next = !self.crc.crc_out.val() ^ self.seed.val();
                self.state.d.next = SendState::Idle;
            }
        }
        self.cmd_queue.read.next = self.start.val();
        self.payload.read.next = self.pop.val();

        // Words received and not yet consumed / requested and not yet consumed.
        if self.rd_data_valid.val() & !self.pop.val() {
            self.fill.d.next = self.fill.q.val() + 1;
        }
        if !self.rd_data_valid.val() & self.pop.val() {
            self.fill.d.next = self.fill.q.val() - 1;
        }
        if self.pop.val() {
            self.outstanding.d.next = self.outstanding.q.val() + self.out_add.val() - 1;
        } else {
            self.outstanding.d.next = self.outstanding.q.val() + self.out_add.val();
        }

        // CRC over the registered link words (every word but the trailer).
        self.crc.crc_in.next = self.crc_state.q.val();
        if self.tx_sop_r.q.val() {
            self.crc.crc_in.next = self.crc_init.val();
        }
        self.crc.data.next = self.tx_data_r.q.val();
        if self.tx_valid_r.q.val() & !self.tx_eop_r.q.val() {
            self.crc_state.d.next = self.crc.crc_out.val();
        }

        // Outputs.
        self.tx_valid.next = self.tx_valid_r.q.val();
        self.tx_sop.next = self.tx_sop_r.q.val();
        self.tx_eop.next = self.tx_eop_r.q.val();
        self.tx_data.next = self.tx_data_r.q.val();
        self.sent_event.next = self.sent_r.q.val();
        self.sent_slot.next = self.meta.q.val().get_bits::<6>(24);
        self.sent_bytes.next = self.meta.q.val().get_bits::<13>(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::packet::{encode, Header};
    use crate::spec::params::PAGE_SHIFT;
    use crate::testbench::{yosys_check, Bench, XorShift};
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// One packet command as the TX MMU presents it.
    #[derive(Debug, Clone, Copy)]
    struct Cmd {
        addr: u32,
        length: u32,
        nva: u32,
        epoch: u8,
        slot: u8,
        first: bool,
        last: bool,
        user: bool,
    }

    /// How the memory model answers.
    #[derive(Debug, Clone, Copy)]
    struct MemTiming {
        /// Cycles from the request cycle to the first beat's cycle (>= 1).
        latency: u64,
        /// Random extra latency per request, random gaps between beats and random
        /// `rd_req_ready` deassertion.
        jitter: bool,
        seed: u64,
    }

    impl MemTiming {
        fn fixed(latency: u64) -> Self {
            MemTiming {
                latency,
                jitter: false,
                seed: 1,
            }
        }
    }

    /// A byte array serving read bursts in order, one beat per cycle at most.
    struct Memory {
        base: u32,
        bytes: Vec<u8>,
        timing: MemTiming,
        rng: XorShift,
        /// (next word address, beats left, first cycle a beat may be returned).
        queue: VecDeque<(u32, u32, u64)>,
        last_ready: u64,
    }

    impl Memory {
        fn word(&self, addr: u32) -> u32 {
            let i = addr
                .checked_sub(self.base)
                .expect("read below the memory model") as usize;
            assert!(i + 4 <= self.bytes.len(), "read beyond the memory model");
            u32::from_le_bytes(self.bytes[i..i + 4].try_into().unwrap())
        }
    }

    /// Link words with tx_valid high: (cycle, sop, eop, data).
    type LinkWord = (u64, bool, bool, u32);

    struct Harness {
        bench: Bench<Packetizer>,
        params: CoreParams,
        node_id: u8,
        mem: Memory,
        /// Commands not yet accepted, each with the first cycle it may be presented.
        pending: VecDeque<(Cmd, u64)>,
        accepted: Vec<(Cmd, u64)>,
        requests: Vec<(u32, u32, u64)>,
        /// rd_req fields offered and not accepted in the previous cycle.
        offered: Option<(u32, u32)>,
        link: Vec<LinkWord>,
        sent: Vec<(u64, u32, u32)>,
    }

    impl Harness {
        fn new(params: CoreParams, node_id: u8, mem: Memory) -> Self {
            Harness {
                bench: Bench::new(Packetizer::new(&params), |p| &mut p.clock),
                params,
                node_id,
                mem,
                pending: VecDeque::new(),
                accepted: Vec::new(),
                requests: Vec::new(),
                offered: None,
                link: Vec::new(),
                sent: Vec::new(),
            }
        }

        fn push(&mut self, cmd: Cmd, not_before: u64) {
            self.pending.push_back((cmd, not_before));
        }

        fn cycle(&mut self) {
            let now = self.bench.cycle;
            let jitter = self.mem.timing.jitter;
            let u = &mut self.bench.uut;
            // Command port.
            let offer = self
                .pending
                .front()
                .filter(|(_, t)| *t <= now)
                .map(|(c, _)| *c);
            u.cmd_valid.next = offer.is_some();
            let c = offer.unwrap_or(Cmd {
                addr: 0xDEAD_BEEF,
                length: 0x1FFF,
                nva: 0xDEAD_BEEF,
                epoch: 0xAA,
                slot: 0x3F,
                first: true,
                last: true,
                user: true,
            });
            u.cmd_addr.next = (c.addr as u64).into();
            u.cmd_length.next = (c.length as u64).into();
            u.cmd_nva.next = (c.nva as u64).into();
            u.cmd_epoch.next = (c.epoch as u64).into();
            u.cmd_counter_slot.next = (c.slot as u64).into();
            u.cmd_first.next = c.first;
            u.cmd_last.next = c.last;
            u.cmd_user.next = c.user;
            u.node_id.next = (self.node_id as u64).into();
            // Memory: one beat at most, in order.
            let mut beat = None;
            if let Some(&(addr, left, ready)) = self.mem.queue.front() {
                if ready <= now && !(jitter && self.mem.rng.chance(25)) {
                    beat = Some(self.mem.word(addr));
                    if left == 1 {
                        self.mem.queue.pop_front();
                    } else {
                        self.mem.queue[0] = (addr + 4, left - 1, ready);
                    }
                }
            }
            let u = &mut self.bench.uut;
            u.rd_data_valid.next = beat.is_some();
            u.rd_data.next = (beat.unwrap_or(0x5A5A_5A5A) as u64).into();
            let ready = !(jitter && self.mem.rng.chance(30));
            u.rd_req_ready.next = ready;
            self.bench.settle();

            let u = &self.bench.uut;
            for (write, full, read, empty) in [
                (
                    &u.payload.write,
                    &u.payload.full,
                    &u.payload.read,
                    &u.payload.empty,
                ),
                (
                    &u.cmd_queue.write,
                    &u.cmd_queue.full,
                    &u.cmd_queue.read,
                    &u.cmd_queue.empty,
                ),
            ] {
                assert!(!(write.val() && full.val()), "FIFO overflow at cycle {now}");
                assert!(
                    !(read.val() && empty.val()),
                    "FIFO underflow at cycle {now}"
                );
            }
            if u.cmd_valid.val() && u.cmd_ready.val() {
                let (cmd, _) = self.pending.pop_front().unwrap();
                self.accepted.push((cmd, now));
            }
            if u.rd_req_valid.val() {
                let addr = u.rd_req_addr.val().to_u64() as u32;
                let len = u.rd_req_len.val().to_u64() as u32;
                if let Some(prev) = self.offered {
                    assert_eq!(prev, (addr, len), "rd_req changed while waiting for ready");
                }
                if ready {
                    let mut at = now + self.mem.timing.latency;
                    if jitter {
                        at += self.mem.rng.next_u64() % 8;
                    }
                    at = at.max(self.mem.last_ready);
                    self.mem.last_ready = at;
                    self.mem.queue.push_back((addr, len, at));
                    self.requests.push((addr, len, now));
                    self.offered = None;
                } else {
                    self.offered = Some((addr, len));
                }
            } else {
                assert!(self.offered.is_none(), "rd_req_valid dropped before ready");
            }
            if u.tx_valid.val() {
                self.link.push((
                    now,
                    u.tx_sop.val(),
                    u.tx_eop.val(),
                    u.tx_data.val().to_u64() as u32,
                ));
            } else {
                assert!(!u.tx_sop.val() && !u.tx_eop.val(), "sop/eop without valid");
            }
            if u.sent_event.val() {
                self.sent.push((
                    now,
                    u.sent_slot.val().to_u64() as u32,
                    u.sent_bytes.val().to_u64() as u32,
                ));
            }
            self.bench.step();
        }

        /// Runs until every command has been sent (or panics after `limit` cycles).
        fn run(&mut self, limit: u64) {
            let total = self.pending.len() + self.accepted.len();
            let start = self.bench.cycle;
            while self.link.iter().filter(|w| w.2).count() < total {
                assert!(
                    self.bench.cycle - start < limit,
                    "timeout: {} of {} packets sent",
                    self.link.iter().filter(|w| w.2).count(),
                    total
                );
                self.cycle();
            }
            // A few more cycles: nothing else may appear on the link or the read port.
            let (links, reqs) = (self.link.len(), self.requests.len());
            for _ in 0..8 {
                self.cycle();
            }
            assert_eq!(self.link.len(), links, "link words after the last packet");
            assert_eq!(
                self.requests.len(),
                reqs,
                "read requests after the last packet"
            );
        }

        fn expected_packet(&self, c: &Cmd) -> Vec<u32> {
            let h = Header {
                nva: c.nva,
                length: c.length,
                first: c.first,
                last: c.last,
                user: c.user,
                src_node: self.node_id,
                epoch: c.epoch,
            };
            let i = (c.addr - self.mem.base) as usize;
            encode(&h, &self.mem.bytes[i..i + c.length as usize])
        }

        /// Packets on the link, split by sop/eop (checks framing).
        fn packets(&self) -> Vec<Vec<LinkWord>> {
            let mut out: Vec<Vec<LinkWord>> = Vec::new();
            let mut open = false;
            for w in &self.link {
                assert_eq!(w.1, !open, "sop must start exactly every packet: {w:?}");
                if w.1 {
                    out.push(Vec::new());
                }
                out.last_mut().unwrap().push(*w);
                open = !w.2;
            }
            assert!(!open, "last packet not closed");
            out
        }

        /// Checks every packet, read request and counter event against the commands.
        fn check(&self) {
            let packets = self.packets();
            assert_eq!(packets.len(), self.accepted.len());
            for (p, (c, _)) in packets.iter().zip(&self.accepted) {
                let words: Vec<u32> = p.iter().map(|w| w.3).collect();
                assert_eq!(words, self.expected_packet(c), "packet for {c:x?}");
            }
            // Reads: exactly the covered words of each command, in order, in line-bounded bursts.
            let line = self.params.line_bytes;
            let mut got = Vec::new();
            for &(addr, len, _) in &self.requests {
                assert_eq!(addr % 4, 0, "unaligned read {addr:#x}");
                assert!(len >= 1 && len <= self.params.line_words(), "burst {len}");
                assert_eq!(
                    addr / line,
                    (addr + 4 * len - 1) / line,
                    "burst crosses a line"
                );
                got.extend((0..len).map(|k| addr + 4 * k));
            }
            let mut want = Vec::new();
            for (c, _) in &self.accepted {
                let first = c.addr & !3;
                let last = (c.addr + c.length - 1) & !3;
                want.extend((first..=last).step_by(4));
            }
            assert_eq!(got, want, "read words");
            // Counter events with the trailers.
            assert_eq!(self.sent.len(), packets.len());
            for ((s, p), (c, _)) in self.sent.iter().zip(&packets).zip(&self.accepted) {
                assert_eq!(s.0, p.last().unwrap().0, "sent_event not with the trailer");
                assert_eq!((s.1, s.2), (c.slot as u32, c.length), "sent slot/bytes");
            }
        }

        /// Cycles without a link word between the first sop and the last eop.
        fn idle_cycles(&self) -> u64 {
            let first = self.link.first().unwrap().0;
            let last = self.link.last().unwrap().0;
            last + 1 - first - self.link.len() as u64
        }
    }

    fn random_memory(base: u32, size: usize, timing: MemTiming) -> Memory {
        let mut rng = XorShift(timing.seed | 1);
        Memory {
            base,
            bytes: (0..size).map(|_| rng.next_u64() as u8).collect(),
            timing,
            rng: XorShift(timing.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            queue: VecDeque::new(),
            last_ready: 0,
        }
    }

    /// Back-to-back commands of `length` bytes at byte offset `align` in consecutive slots.
    fn stream(params: CoreParams, length: u32, align: u32, count: usize, latency: u64) -> Harness {
        let base = 0x4000_0000;
        let mut h = Harness::new(
            params,
            0x17,
            random_memory(base, 64 * 1024, MemTiming::fixed(latency)),
        );
        let stride = (length + align + 3) & !3;
        let mut addr = base + align;
        for i in 0..count {
            // Keep every packet inside one page, as the TX MMU does.
            if (addr & 0xFFF) + length > 0x1000 {
                addr = ((addr + 0xFFF) & !0xFFF) + align;
            }
            h.push(
                Cmd {
                    addr,
                    length,
                    nva: 0x1234_5000 + addr - base,
                    epoch: i as u8,
                    slot: (i % 64) as u8,
                    first: i == 0,
                    last: i == count - 1,
                    user: i % 3 == 0,
                },
                0,
            );
            addr += stride;
        }
        h.run(100_000);
        h.check();
        h
    }

    #[test]
    fn verilog_is_clean() {
        let v = yosys_check("packetizer", Packetizer::new(&CoreParams::default()));
        crate::testbench::lint_check("packetizer", Packetizer::new(&CoreParams::default()));
        // For synthesis experiments: VASSA_DUMP_VERILOG=path writes the default block's Verilog.
        if let Some(path) = std::env::var_os("VASSA_DUMP_VERILOG") {
            std::fs::write(path, &v).unwrap();
        }
        yosys_check(
            "packetizer_lines",
            Packetizer::new(&CoreParams {
                line_bytes: 4,
                max_payload: 4096,
                ..Default::default()
            }),
        );
    }

    /// The generated Verilog, run by Icarus Verilog, reproduces the Rust model cycle for cycle
    /// on a run with jittery memory, every alignment and back-to-back packets.
    #[test]
    fn verilog_matches_the_model_under_iverilog() {
        let params = CoreParams {
            line_bytes: 16,
            ..Default::default()
        };
        yosys_check("packetizer_replay", Packetizer::new(&params));
        let base = 0x7654_3000;
        let timing = MemTiming {
            latency: 3,
            jitter: true,
            seed: 99,
        };
        let mut h = Harness::new(params, 0x42, random_memory(base, 16 * 1024, timing));
        h.bench.record();
        let mut at = 0;
        for i in 0..40u32 {
            let offset = (i * 0x3F1 + i * i) % 0x3000;
            let room = PAGE_SIZE - (offset & (PAGE_SIZE - 1));
            let length = (1 + (i * 37) % 256).min(room);
            at += if i % 5 == 4 { 60 } else { 0 };
            h.push(
                Cmd {
                    addr: base + offset,
                    length,
                    nva: 0x9000_0000 ^ (i << 7),
                    epoch: (i * 13) as u8,
                    slot: (i % 64) as u8,
                    first: i % 2 == 0,
                    last: i % 3 == 0,
                    user: i % 5 == 0,
                },
                at,
            );
        }
        h.run(100_000);
        h.check();
        h.bench.replay("packetizer");
    }

    #[test]
    fn single_packets_every_alignment_and_tail() {
        for align in 0..4 {
            for length in [1, 2, 3, 4, 5, 6, 7, 8, 9, 31, 32, 33] {
                let mut h = Harness::new(
                    CoreParams::default(),
                    0xC3,
                    random_memory(0x10_0000, 4096, MemTiming::fixed(3)),
                );
                h.push(
                    Cmd {
                        addr: 0x10_0000 + 0x3C + align,
                        length,
                        nva: 0xABCD_E03C + align,
                        epoch: 0x5A,
                        slot: 9,
                        first: true,
                        last: length % 2 == 0,
                        user: true,
                    },
                    0,
                );
                h.run(1000);
                h.check();
            }
        }
    }

    #[test]
    fn latency_and_line_rate() {
        let p = CoreParams::default();
        for latency in [1u64, 8, 20] {
            let mut h = Harness::new(p, 1, random_memory(0x2000, 4096, MemTiming::fixed(latency)));
            h.push(
                Cmd {
                    addr: 0x2000 + 0x101,
                    length: 32,
                    nva: 0x101,
                    epoch: 1,
                    slot: 1,
                    first: true,
                    last: true,
                    user: false,
                },
                5,
            );
            h.run(1000);
            h.check();
            let accepted = h.accepted[0].1;
            let first_word = h.link[0].0;
            let first_req = h.requests[0].2;
            println!(
                "memory latency {latency:2}: command accepted at {accepted}, first read request at {first_req}, \
                 first link word at {first_word}: {} cycles command -> first word ({} beyond the memory latency)",
                first_word - accepted,
                first_word - accepted - latency
            );
            // The command queue shows a command five cycles after it is taken (four RAM rows),
            // which is what a memory faster than three cycles waits for.
            assert_eq!(first_word - accepted, (latency + 3).max(6));
        }
        for (length, align) in [(32u32, 0u32), (32, 1), (256, 0), (256, 3)] {
            let count = 16;
            let h = stream(p, length, align, count, 8);
            let cycles = h.link.last().unwrap().0 + 1 - h.link[0].0;
            let payload_words = count as u64 * length.div_ceil(4) as u64;
            println!(
                "{count} x {length} B (offset {align}), memory latency 8: {cycles} link cycles, {} idle, \
                 link busy {:.1} %, payload efficiency {:.1} % (ideal {:.1} %)",
                h.idle_cycles(),
                100.0 * h.link.len() as f64 / cycles as f64,
                100.0 * payload_words as f64 / cycles as f64,
                100.0 * length.div_ceil(4) as f64 / (length.div_ceil(4) + 3) as f64
            );
            assert_eq!(
                h.idle_cycles(),
                0,
                "idle link cycles between back-to-back packets"
            );
        }
    }

    /// For the report: the longest fixed memory latency that still gives an idle-free link for
    /// back-to-back packets of several sizes (run with `--ignored --nocapture`).
    #[test]
    #[ignore]
    fn line_rate_latency_sweep() {
        for line_bytes in [32, 128] {
            let p = CoreParams {
                line_bytes,
                ..Default::default()
            };
            for length in [1u32, 4, 32, 64, 256] {
                let mut best = 0;
                for latency in 1..=120u64 {
                    if stream(p, length, 1, 24, latency).idle_cycles() != 0 {
                        break;
                    }
                    best = latency;
                }
                println!(
                    "line {line_bytes:3} B, packets of {length:3} B at offset 1: idle-free up to memory latency {best}"
                );
            }
        }
    }

    const LINE_CHOICES: [u32; 6] = [4, 8, 16, 32, 64, 128];
    const MEM_PAGES: u32 = 16;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn random_commands_match_the_spec(
            line_sel in 0usize..LINE_CHOICES.len(),
            max_words in 1u32..=128,
            node_id in any::<u8>(),
            latency in 1u64..=24,
            jitter in any::<bool>(),
            spaced in any::<bool>(),
            seed in any::<u64>(),
            base_page in 0u32..((1 << (32 - PAGE_SHIFT)) - MEM_PAGES),
            raw in proptest::collection::vec(
                (0..MEM_PAGES << PAGE_SHIFT, any::<u32>(), any::<u32>(), any::<u8>(), 0u8..64,
                 any::<bool>(), any::<bool>(), any::<bool>(), 0u64..40),
                1..=12),
        ) {
            let params = CoreParams {
                line_bytes: LINE_CHOICES[line_sel],
                max_payload: max_words * 4,
                ..Default::default()
            };
            let base = base_page << PAGE_SHIFT;
            let timing = MemTiming { latency, jitter, seed };
            let mut h = Harness::new(params, node_id,
                random_memory(base, (MEM_PAGES << PAGE_SHIFT) as usize, timing));
            let mut at = 0;
            for &(offset, len_seed, nva, epoch, slot, first, last, user, gap) in &raw {
                // Never cross a page, as the TX MMU guarantees.
                let room = PAGE_SIZE - (offset & (PAGE_SIZE - 1));
                let length = 1 + len_seed % params.max_payload.min(room);
                if spaced {
                    at += gap * 4;
                }
                h.push(Cmd { addr: base + offset, length, nva, epoch, slot, first, last, user }, at);
            }
            h.run(200_000);
            h.check();
            if !jitter && !spaced {
                prop_assert_eq!(h.idle_cycles(), 0, "idle link cycles with fixed-latency memory");
            }
        }
    }
}
