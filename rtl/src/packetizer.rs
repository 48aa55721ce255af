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
//!   If data is late it holds `link.valid` low mid-packet (cut-through); no idle cycle is added
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
use crate::interfaces::{LinkSender, MemReadController, PacketEventSender, TxCommandResponder};
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
    /// Packets to send, from the TX MMU.
    pub cmd: TxCommandResponder,
    pub node_id: Signal<In, Bits<8>>,
    // Memory read port.
    /// Payload reads, a cache line a burst.
    pub mem_rd: MemReadController,
    // Link TX (registered).
    /// The link, TX direction.
    pub link: LinkSender,
    // Counter event, with the trailer.
    /// A packet sent, for the traffic counters.
    pub sent: PacketEventSender,

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
            cmd: Default::default(),
            node_id: Default::default(),
            mem_rd: Default::default(),
            link: Default::default(),
            sent: Default::default(),
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
            self.cmd.valid.val() & !self.rd_busy.q.val() & !self.cmd_queue.full.val();
        self.cmd.ready.next = !self.rd_busy.q.val() & !self.cmd_queue.full.val();
        self.cmd_meta.next = bit_cast::<32, 13>(self.cmd.length.val())
            | (bit_cast::<32, 1>(self.cmd.first.val().into()) << 13)
            | (bit_cast::<32, 1>(self.cmd.last.val().into()) << 14)
            | (bit_cast::<32, 1>(self.cmd.user.val().into()) << 15)
            | (bit_cast::<32, 8>(self.cmd.epoch.val()) << 16)
            | (bit_cast::<32, 6>(self.cmd.counter_slot.val()) << 24)
            | (bit_cast::<32, 2>(self.cmd.addr.val().get_bits::<2>(0)) << 30);
        self.cmd_queue.data_in.next = (bit_cast::<64, 32>(self.cmd_meta.val()) << 32)
            | bit_cast::<64, 32>(self.cmd.nva.val());
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
        self.mem_rd.req_valid.next = self.can_req.val();
        self.req_go.next = self.can_req.val() & self.mem_rd.req_ready.val();
        self.mem_rd.req_addr.next = self.rd_addr.q.val();
        self.mem_rd.req_len.next = self.burst.val();
        if self.cmd_take.val() {
            self.rd_busy.d.next = true;
            self.rd_addr.d.next = self.cmd.addr.val() & self.word_mask.val();
            self.rd_end.d.next =
                self.cmd.addr.val() + bit_cast::<32, 13>(self.cmd.length.val()) - 1;
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
        self.payload.write.next = self.mem_rd.data_valid.val();
        self.payload.data_in.next = self.mem_rd.data.val();
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
        if self.mem_rd.data_valid.val() & !self.pop.val() {
            self.fill.d.next = self.fill.q.val() + 1;
        }
        if !self.mem_rd.data_valid.val() & self.pop.val() {
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
        self.link.valid.next = self.tx_valid_r.q.val();
        self.link.sop.next = self.tx_sop_r.q.val();
        self.link.eop.next = self.tx_eop_r.q.val();
        self.link.data.next = self.tx_data_r.q.val();
        self.sent.valid.next = self.sent_r.q.val();
        self.sent.slot.next = self.meta.q.val().get_bits::<6>(24);
        self.sent.bytes.next = self.meta.q.val().get_bits::<13>(0);
    }
}

#[cfg(test)]
mod tests;
