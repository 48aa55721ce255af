//! The depacketizer's logic (`#[hdl_gen]`): one `update` in the sections the module docs
//! describe, each marked `// ----`.

use super::{
    Depacketizer, RetryState, RxState, JOB_BITS, RA, TRACE_BITS, VERDICT_CODE_BITS, WIDX_BITS,
};
use crate::interfaces::{MemWriteController, TAG_BITS};
use rust_hdl::prelude::*;

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
            store1_valid,
            store1_data,
            store2_valid,
            store2_data,
            pkt_to_ring,
            pkt_missed,
            pkt_miss_buf,
            pkt_start,
            pkt_overrun,
            mptr,
            ring_wp,
            ring_rd,
            ring_free,
            ring_room,
            link_map_hit,
            link_map_page,
            link_map_writable,
            link_map_signal,
            link_map_slot,
            link_map_epoch,
            lk_valid,
            lk_link,
            lk_gen,
            p1_link,
            p1_retry,
            p1_gen,
            p2_link,
            p2_retry,
            p2_gen,
            eop_pending,
            eop_malformed,
            eop_crc_ok,
            rt_state,
            rt_buf,
            rt_redo,
            retry_map_hit,
            retry_map_page,
            retry_map_writable,
            retry_map_signal,
            retry_map_slot,
            retry_epoch_ok,
            retry_fits,
            pkt_fits,
            nparked,
            writing_nva,
            writing_len,
            writing_slot,
            writing_signal,
            ev_miss,
            ev_miss_tag,
            ev_crc,
            ev_protection,
            ev_host_drop,
            ev_miss_overflow,
            ev_overrun,
            mal_pending,
            ev_delivered,
            ev_delivered_slot,
            ev_delivered_bytes,
            ev_notify,
            ev_notify_nva,
            tr_valid,
            tr_link,
            tr_code,
            tr_tag,
            tr_hdrop_tag
        );
        clock!(self, clock, ram, lw, jq);
        // Pulses are low unless set below.
        self.lk_valid.d.next = false;
        self.eop_pending.d.next = false;
        self.store1_valid.d.next = false;
        self.ev_miss.d.next = false;
        self.ev_crc.d.next = false;
        self.ev_protection.d.next = false;
        self.ev_host_drop.d.next = false;
        self.ev_miss_overflow.d.next = false;
        self.ev_overrun.d.next = false;
        self.ev_delivered.d.next = false;
        self.ev_notify.d.next = false;
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
            if !self.mbuf_busy[i].q.val() {
                self.alloc_any.next = true;
                self.alloc_buf.next = i.to_bits();
            }
            if self.mbuf_retry_req[i].q.val() {
                self.rt_any.next = true;
                self.rt_pick.next = i.to_bits();
            }
        }
        // The header of a parked packet stays in its miss buffer's registers until the buffer
        // is freed, so the retry reads it there.
        self.retry_nva.next = 0.into();
        self.retry_len.next = 0.into();
        self.retry_epoch.next = 0.into();
        self.miss.parked_page.next = 0.into();
        for i in 0..self._n {
            if self.rt_buf.q.val() == i.to_bits() {
                self.retry_nva.next = self.mbuf_nva[i].q.val();
                self.retry_len.next = self.mbuf_len[i].q.val();
                self.retry_epoch.next = self.mbuf_epoch[i].q.val();
            }
            if self.miss.parked_tag.val() == i.to_bits() {
                self.miss.parked_page.next = self.mbuf_nva[i]
                    .q
                    .val()
                    .get_bits::<20>(self.c_page_shift.val().index());
            }
        }

        // ---- Receive FSM.
        self.crc.data.next = self.link.data.val();
        self.crc.crc_in.next = self.crc_q.q.val();
        if self.link.sop.val() {
            self.crc.crc_in.next = self.c_crc_init.val();
        }
        self.len_in.next = self
            .link
            .data
            .val()
            .get_bits::<13>(self.c_len_lsb.val().index());
        self.epoch32.next = bit_cast::<32, 8>(self.hdr_epoch.q.val());
        self.exp_trailer.next = !self.crc_q.q.val()
            ^ self.c_seed_base.val()
            ^ self.epoch32.val()
            ^ (self.epoch32.val() << 8)
            ^ (self.epoch32.val() << 16)
            ^ (self.epoch32.val() << 24);
        self.link_release.next = false;
        self.link_lk.next = false;
        self.mal_framing.next = 0.into();
        self.mal_one_word.next = 0.into();
        self.store1_data.d.next = self.link.data.val();
        if self.link.valid.val() {
            if self.link.sop.val() {
                // An open packet or stray run ends here, malformed; its words are released.
                if self.in_recv.val() | self.in_stray.val() {
                    self.mal_framing.next = 1.into();
                }
                if self.in_recv.val() {
                    self.link_release.next = true;
                }
                if self.link.eop.val() {
                    // One-word packet.
                    self.mal_one_word.next = 1.into();
                    self.rx_state.d.next = RxState::Idle;
                } else {
                    self.rx_state.d.next = RxState::Recv;
                    self.widx.d.next = 1.into();
                    self.crc_q.d.next = self.crc.crc_out.val();
                    self.gen.d.next = self.gen.q.val() + 1;
                    self.len_ok.d.next = false;
                    self.hdr_nva.d.next = self.link.data.val();
                    self.link_lk.next = true;
                }
            } else {
                match self.rx_state.q.val() {
                    RxState::Idle => {
                        if self.link.eop.val() {
                            self.mal_framing.next = 1.into();
                        } else {
                            self.rx_state.d.next = RxState::Stray;
                        }
                    }
                    RxState::Stray => {
                        if self.link.eop.val() {
                            self.mal_framing.next = 1.into();
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
                                .link
                                .data
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
                            & !self.link.eop.val()
                        {
                            self.store1_valid.d.next = true;
                        }
                        if self.link.eop.val() {
                            self.eop_pending.d.next = true;
                            self.eop_malformed.d.next = !(self.len_ok.q.val()
                                & (self.widx.q.val() == self.exp_last.q.val()));
                            self.eop_crc_ok.d.next = self.exp_trailer.val() == self.link.data.val();
                            self.rx_state.d.next = RxState::Idle;
                        }
                    }
                }
            }
        }

        // ---- Lookup port: the link first, then a retry. A retry never follows a lookup
        // presented in this cycle (it would preempt it) and waits while `lookup.hold` is high;
        // one that finds `lookup.hold` high in its own cycle is withdrawn. A preempted or
        // withdrawn retry is issued again for the same buffer (`rt_redo`).
        self.rt_issue.next = false;
        self.rt_slot.next = !self.lk_valid.q.val() & !self.lookup.hold.val();
        self.retry_withdrawn.next =
            self.lk_valid.q.val() & !self.lk_link.q.val() & self.lookup.hold.val();
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
        if self.retry_withdrawn.val() {
            self.rt_redo.d.next = true;
        }
        self.lookup.valid.next = self.lk_valid.q.val() & !self.retry_withdrawn.val();
        // The key is in the header register (link) or the miss buffer (retry) while
        // `lookup.valid` is high.
        self.lookup.key.next = self
            .hdr_nva
            .q
            .val()
            .get_bits::<20>(self.c_page_shift.val().index());
        self.lookup.tag.next = 0.into();
        if !self.lk_link.q.val() {
            self.lookup.key.next = self
                .retry_nva
                .val()
                .get_bits::<20>(self.c_page_shift.val().index());
            self.lookup.tag.next = self.rt_buf.q.val();
        }
        self.p1_link.d.next = self.lk_valid.q.val() & self.lk_link.q.val();
        self.p1_retry.d.next =
            self.lk_valid.q.val() & !self.lk_link.q.val() & !self.retry_withdrawn.val();
        self.p1_gen.d.next = self.lk_gen.q.val();
        self.p2_link.d.next = self.p1_link.q.val();
        self.p2_retry.d.next = self.p1_retry.q.val();
        self.p2_gen.d.next = self.p1_gen.q.val();
        // The link result of the packet being received chooses where its payload goes (not if
        // a start of packet cuts it in this very cycle).
        self.take.next = self.p2_link.q.val()
            & (self.p2_gen.q.val() == self.gen.q.val())
            & self.in_recv.val()
            & !(self.link.valid.val() & self.link.sop.val());
        self.take_miss.next = false;
        if self.take.val() {
            self.link_map_hit.d.next =
                self.lookup.result_valid.val() & self.lookup.result_hit.val();
            self.link_map_page.d.next = self.lookup.result_page.val();
            self.link_map_writable.d.next = self.lookup.result_writable.val();
            self.link_map_signal.d.next = self.lookup.result_signal.val();
            self.link_map_slot.d.next = self.lookup.result_counter_slot.val();
            self.link_map_epoch.d.next = self.lookup.result_epoch.val();
            if self.lookup.result_valid.val() & self.lookup.result_hit.val() {
                self.pkt_to_ring.d.next = true;
                self.pkt_start.d.next = self.ring_wp.q.val();
            } else if self.alloc_any.val() {
                self.take_miss.next = true;
                self.pkt_missed.d.next = true;
                self.pkt_miss_buf.d.next = self.alloc_buf.val();
                self.mptr.d.next = self.c_ring_words.val()
                    + (bit_cast::<RA, TAG_BITS>(self.alloc_buf.val()) << self.c_slot_shift.val());
            }
        }
        if self.p2_retry.q.val() & !self.lookup.result_valid.val() {
            // Preempted by a link lookup in the cycle after it: look up again.
            self.rt_redo.d.next = true;
        } else if self.p2_retry.q.val() {
            self.retry_map_hit.d.next = self.lookup.result_hit.val();
            self.retry_map_page.d.next = self.lookup.result_page.val();
            self.retry_map_writable.d.next = self.lookup.result_writable.val();
            self.retry_map_signal.d.next = self.lookup.result_signal.val();
            self.retry_map_slot.d.next = self.lookup.result_counter_slot.val();
            self.retry_epoch_ok.d.next = self.lookup.result_epoch.val() == self.retry_epoch.val();
            self.retry_fits.d.next =
                (bit_cast::<14, 32>(self.retry_nva.val() & self.c_off_mask.val())
                    + bit_cast::<14, 13>(self.retry_len.val()))
                    <= self.c_page_size.val();
            self.rt_state.d.next = RetryState::Ready;
        }

        // ---- Payload stores, two cycles behind the link.
        self.store2_valid.d.next = self.store1_valid.q.val();
        self.store2_data.d.next = self.store1_data.q.val();
        self.ring_room.d.next = ((self.ring_wp.q.val() - self.ring_free.q.val())
            & self.c_ptr_mask.val())
            < self.c_room_limit.val();
        self.st_ring.next = self.store2_valid.q.val() & self.pkt_to_ring.q.val();
        self.ram.write_enable.next = false;
        self.ram.write_address.next = self.ring_wp.q.val() & self.c_ring_mask.val();
        self.ram.write_data.next = self.store2_data.q.val();
        if self.st_ring.val() {
            if self.ring_room.q.val() {
                self.ram.write_enable.next = true;
                self.ring_wp.d.next = (self.ring_wp.q.val() + 1) & self.c_ptr_mask.val();
            } else {
                self.pkt_overrun.d.next = true;
            }
        }
        if self.store2_valid.q.val() & self.pkt_missed.q.val() {
            self.ram.write_enable.next = true;
            self.ram.write_address.next = self.mptr.q.val();
            self.mptr.d.next = (self.mptr.q.val() + 1) & self.c_addr_mask.val();
        }
        self.ovr_now.next =
            self.pkt_overrun.q.val() | (self.st_ring.val() & !self.ring_room.q.val());
        // A new packet has no destination until its lookup result.
        if self.link.valid.val() & self.link.sop.val() {
            self.pkt_to_ring.d.next = false;
            self.pkt_missed.d.next = false;
            self.pkt_overrun.d.next = false;
            self.link_map_hit.d.next = false;
        }

        // ---- Verdict stage: a finished link packet, else a retried parked packet.
        self.verdict_go.next = false;
        self.verdict_link.next = false;
        self.verdict_buf.next = self.pkt_miss_buf.q.val();
        self.verdict_hit.next = self.link_map_hit.q.val();
        self.verdict_epoch_ok.next = self.hdr_epoch.q.val() == self.link_map_epoch.q.val();
        self.verdict_writable.next = self.link_map_writable.q.val();
        self.verdict_fits.next = self.pkt_fits.q.val();
        if self.eop_pending.q.val() {
            self.verdict_go.next = true;
            self.verdict_link.next = true;
        } else if self.rt_is_ready.val() {
            self.verdict_go.next = true;
            self.verdict_buf.next = self.rt_buf.q.val();
            self.verdict_hit.next = self.retry_map_hit.q.val();
            self.verdict_epoch_ok.next = self.retry_epoch_ok.q.val();
            self.verdict_writable.next = self.retry_map_writable.q.val();
            self.verdict_fits.next = self.retry_fits.q.val();
            self.rt_state.d.next = RetryState::Idle;
        }
        self.pkt_fits.d.next = (bit_cast::<14, 32>(self.hdr_nva.q.val() & self.c_off_mask.val())
            + bit_cast::<14, 13>(self.hdr_len.q.val()))
            <= self.c_page_size.val();
        // Physical address of a link packet's write job.
        self.verdict_paddr.next = (bit_cast::<32, 20>(self.link_map_page.q.val())
            << self.c_page_shift.val())
            | (self.hdr_nva.q.val() & self.c_off_mask.val());
        self.retry_release.next = false;
        self.park.next = false;
        self.rewait.next = false;
        self.retry_accepted.next = false;
        self.jq_push.next = false;
        self.mal_verdict.next = 0.into();
        self.ev_miss_tag.d.next = self.verdict_buf.val();
        if self.verdict_go.val() {
            // The trace's verdict record: one per link packet (in link order) and per retry.
            self.tr_valid.d.next = true;
            self.tr_link.d.next = self.verdict_link.val();
            self.tr_tag.d.next = self.verdict_buf.val();
            if self.verdict_link.val()
                & self.pkt_to_ring.q.val()
                & (self.ovr_now.val() | self.jq.full.val())
            {
                self.ev_overrun.d.next = true;
                self.tr_code.d.next = self.c_v_rx_overrun.val();
                self.link_release.next = true;
            } else if self.verdict_link.val() & self.eop_malformed.q.val() {
                self.mal_verdict.next = 1.into();
                self.tr_code.d.next = self.c_v_malformed.val();
                self.link_release.next = true;
            } else if self.verdict_link.val() & !self.eop_crc_ok.q.val() {
                self.ev_crc.d.next = true;
                self.tr_code.d.next = self.c_v_crc_epoch.val();
                self.link_release.next = true;
            } else if !self.verdict_hit.val() {
                if self.verdict_link.val() {
                    if self.pkt_missed.q.val() {
                        self.park.next = true;
                        self.ev_miss.d.next = true;
                        self.tr_code.d.next = self.c_v_parked.val();
                    } else {
                        self.ev_miss_overflow.d.next = true;
                        self.tr_code.d.next = self.c_v_miss_overflow.val();
                    }
                } else {
                    // Still missing: post the miss again, stay parked.
                    self.rewait.next = true;
                    self.ev_miss.d.next = true;
                    self.tr_code.d.next = self.c_v_parked.val();
                }
            } else if !self.verdict_epoch_ok.val() {
                self.ev_crc.d.next = true;
                self.tr_code.d.next = self.c_v_crc_epoch.val();
                if self.verdict_link.val() {
                    self.link_release.next = true;
                } else {
                    self.retry_release.next = true;
                }
            } else if !self.verdict_writable.val() | !self.verdict_fits.val() {
                self.ev_protection.d.next = true;
                self.tr_code.d.next = self.c_v_protection.val();
                if self.verdict_link.val() {
                    self.link_release.next = true;
                } else {
                    self.retry_release.next = true;
                }
            } else if self.verdict_link.val() {
                self.jq_push.next = true;
                self.tr_code.d.next = self.c_v_accepted.val();
            } else {
                self.retry_accepted.next = true;
                self.tr_code.d.next = self.c_v_accepted.val();
            }
        }
        // Releasing the link packet's words: a ring packet is the newest in the ring.
        if self.link_release.val() & self.pkt_to_ring.q.val() {
            self.ring_wp.d.next = self.pkt_start.q.val();
        }
        // A parked packet stays counted in `parked` until its miss buffer is freed, through its
        // retry's write: a reader that finds a newer message of a writer complete while an
        // older one is missing reads STATUS, and rx_parked 0 tells it the older one will
        // never come, which holds only if a retried packet counts until it is in memory.
        self.rt_written.next = self.lw.done.val() & self.rt_is_write.val();
        self.unpark.next = self.retry_release.val() | self.rt_written.val();
        if self.retry_accepted.val() {
            self.rt_state.d.next = RetryState::Job;
        }
        self.jq.write.next = self.jq_push.val();
        // A link packet's write job.
        self.jq_meta_in.next = (bit_cast::<27, 6>(self.link_map_slot.q.val()) << 20)
            | bit_cast::<27, 20>(
                self.hdr_nva
                    .q
                    .val()
                    .get_bits::<20>(self.c_page_shift.val().index()),
            );
        if self.link_map_signal.q.val() {
            self.jq_meta_in.next = (bit_cast::<27, 6>(self.link_map_slot.q.val()) << 20)
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
            | bit_cast::<JOB_BITS, 32>(self.verdict_paddr.val());

        // ---- Resolves from the host (ignored unless the tag waits for one).
        self.resolve_hit.next = false;
        for i in 0..self._n {
            if self.miss.resolve_valid.val()
                & (self.miss.resolve_tag.val() == i.to_bits())
                & self.mbuf_waiting[i].q.val()
            {
                self.resolve_hit.next = true;
            }
        }
        self.host_drop.next = self.resolve_hit.val() & self.miss.resolve_drop.val();
        self.ev_host_drop.d.next = self.host_drop.val();
        if self.host_drop.val() {
            self.tr_hdrop_tag.d.next = self.miss.resolve_tag.val();
        }

        // ---- Per miss buffer state and metadata.
        for i in 0..self._n {
            self.mbuf_busy[i].clock.next = self.clock.val();
            self.mbuf_waiting[i].clock.next = self.clock.val();
            self.mbuf_retry_req[i].clock.next = self.clock.val();
            self.mbuf_nva[i].clock.next = self.clock.val();
            self.mbuf_len[i].clock.next = self.clock.val();
            self.mbuf_epoch[i].clock.next = self.clock.val();
            self.mbuf_busy[i].d.next = self.mbuf_busy[i].q.val();
            self.mbuf_waiting[i].d.next = self.mbuf_waiting[i].q.val();
            self.mbuf_retry_req[i].d.next = self.mbuf_retry_req[i].q.val();
            self.mbuf_nva[i].d.next = self.mbuf_nva[i].q.val();
            self.mbuf_len[i].d.next = self.mbuf_len[i].q.val();
            self.mbuf_epoch[i].d.next = self.mbuf_epoch[i].q.val();
            if self.link_release.val()
                & self.pkt_missed.q.val()
                & (self.pkt_miss_buf.q.val() == i.to_bits())
            {
                self.mbuf_busy[i].d.next = false;
            }
            if self.retry_release.val() & (self.verdict_buf.val() == i.to_bits()) {
                self.mbuf_busy[i].d.next = false;
            }
            if self.rt_written.val() & (self.rt_buf.q.val() == i.to_bits()) {
                self.mbuf_busy[i].d.next = false;
            }
            if self.take_miss.val() & (self.alloc_buf.val() == i.to_bits()) {
                self.mbuf_busy[i].d.next = true;
            }
            if self.park.val() & (self.verdict_buf.val() == i.to_bits()) {
                self.mbuf_waiting[i].d.next = true;
                self.mbuf_nva[i].d.next = self.hdr_nva.q.val();
                self.mbuf_len[i].d.next = self.hdr_len.q.val();
                self.mbuf_epoch[i].d.next = self.hdr_epoch.q.val();
            }
            if self.rewait.val() & (self.verdict_buf.val() == i.to_bits()) {
                self.mbuf_waiting[i].d.next = true;
            }
            if self.resolve_hit.val() & (self.miss.resolve_tag.val() == i.to_bits()) {
                self.mbuf_waiting[i].d.next = false;
                if self.miss.resolve_drop.val() {
                    self.mbuf_busy[i].d.next = false;
                } else {
                    self.mbuf_retry_req[i].d.next = true;
                }
            }
            if self.rt_issue.val() & (self.rt_pick.val() == i.to_bits()) {
                self.mbuf_retry_req[i].d.next = false;
            }
        }
        self.parked_inc.next = 0.into();
        if self.park.val() {
            self.parked_inc.next = 1.into();
        }
        self.parked_dec_retry.next = 0.into();
        if self.unpark.val() {
            self.parked_dec_retry.next = 1.into();
        }
        self.parked_dec_host.next = 0.into();
        if self.host_drop.val() {
            self.parked_dec_host.next = 1.into();
        }
        self.nparked.d.next = self.nparked.q.val() + self.parked_inc.val()
            - self.parked_dec_retry.val()
            - self.parked_dec_host.val();
        self.miss.parked.next = self.nparked.q.val();

        // ---- Malformed drops: up to two per cycle in, one pulse per cycle out.
        self.mal_pending.d.next = self.mal_pending.q.val()
            + self.mal_framing.val()
            + self.mal_one_word.val()
            + self.mal_verdict.val();
        self.drop_malformed.next = self.mal_pending.q.val() != 0;
        if self.mal_pending.q.val() != 0 {
            self.mal_pending.d.next = self.mal_pending.q.val()
                + self.mal_framing.val()
                + self.mal_one_word.val()
                + self.mal_verdict.val()
                - 1;
        }

        // ---- Line writer: ring jobs first, then a retried packet's job.
        self.jq_addr.next = self.jq.data_out.val().get_bits::<32>(0);
        self.jq_meta.next = self.jq.data_out.val().get_bits::<27>(32);
        self.jq_len.next = self.jq.data_out.val().get_bits::<13>(59);
        self.jq_any.next = !self.jq.empty.val();
        self.jq_words.next = (bit_cast::<RA, 13>(self.jq_len.val()) + 3) >> 2;
        self.lw.job_valid.next = self.jq_any.val() | self.rt_is_job.val();
        self.lw.job_ring.next = self.jq_any.val();
        self.job_base_sel.next = self.ring_rd.q.val() & self.c_ring_mask.val();
        self.job_addr_sel.next = self.jq_addr.val();
        self.job_len_sel.next = self.jq_len.val();
        if !self.jq_any.val() {
            self.job_base_sel.next = self.c_ring_words.val()
                + (bit_cast::<RA, TAG_BITS>(self.rt_buf.q.val()) << self.c_slot_shift.val());
            self.job_addr_sel.next = (bit_cast::<32, 20>(self.retry_map_page.q.val())
                << self.c_page_shift.val())
                | (self.retry_nva.val() & self.c_off_mask.val());
            self.job_len_sel.next = self.retry_len.val();
        }
        self.lw.job_base.next = self.job_base_sel.val();
        self.lw.job_addr.next = self.job_addr_sel.val();
        self.lw.job_length.next = self.job_len_sel.val();
        self.lw_pop.next = self.lw.job_valid.val() & self.lw.job_ready.val();
        self.jq.read.next = self.lw_pop.val() & self.jq_any.val();
        if self.lw_pop.val() {
            if self.jq_any.val() {
                self.ring_rd.d.next =
                    (self.ring_rd.q.val() + self.jq_words.val()) & self.c_ptr_mask.val();
                self.writing_nva.d.next =
                    (bit_cast::<32, 20>(self.jq_meta.val().get_bits::<20>(0))
                        << self.c_page_shift.val())
                        | (self.jq_addr.val() & self.c_off_mask.val());
                self.writing_len.d.next = self.jq_len.val();
                self.writing_slot.d.next = self.jq_meta.val().get_bits::<6>(20);
                self.writing_signal.d.next = self.jq_meta.val().get_bit(26);
            } else {
                self.rt_state.d.next = RetryState::Write;
            }
        }
        if self.lw.done.val() {
            self.ev_delivered.d.next = true;
            if self.rt_is_write.val() {
                self.rt_state.d.next = RetryState::Idle;
                self.ev_delivered_slot.d.next = self.retry_map_slot.q.val();
                self.ev_delivered_bytes.d.next = self.retry_len.val();
                self.ev_notify.d.next = self.retry_map_signal.q.val();
                self.ev_notify_nva.d.next = self.retry_nva.val();
            } else {
                // No job was taken since this one, so the read pointer is just past it.
                self.ring_free.d.next = self.ring_rd.q.val();
                self.ev_delivered_slot.d.next = self.writing_slot.q.val();
                self.ev_delivered_bytes.d.next = self.writing_len.q.val();
                self.ev_notify.d.next = self.writing_signal.q.val();
                self.ev_notify_nva.d.next = self.writing_nva.q.val();
            }
        }
        self.ram.read_address.next = self.lw.ram_read_address.val();
        self.lw.ram_read_data.next = self.ram.read_data.val();
        MemWriteController::link(&mut self.mem_wr, &mut self.lw.mem_wr);

        // ---- Event outputs.
        self.miss.valid.next = self.ev_miss.q.val();
        self.miss.tag.next = self.ev_miss_tag.q.val();
        self.drop_crc_epoch.next = self.ev_crc.q.val();
        self.drop_protection.next = self.ev_protection.q.val();
        self.drop_miss_dropped.next = self.ev_host_drop.q.val();
        self.drop_miss_overflow.next = self.ev_miss_overflow.q.val();
        self.drop_rx_overrun.next = self.ev_overrun.q.val();
        self.delivered.valid.next = self.ev_delivered.q.val();
        self.delivered.slot.next = self.ev_delivered_slot.q.val();
        self.delivered.bytes.next = self.ev_delivered_bytes.q.val();
        self.notify.valid.next = self.ev_notify.q.val();
        self.notify.nva.next = self.ev_notify_nva.q.val();
        // A notification is a delivery with more detail (only meaningful with `notify.valid`).
        self.notify.length.next = self.ev_delivered_bytes.q.val();
        self.trace.next = (bit_cast::<TRACE_BITS, 1>(self.tr_valid.q.val().into())
            << self.c_tr_valid_lsb.val())
            | (bit_cast::<TRACE_BITS, 1>(self.tr_link.q.val().into()) << self.c_tr_link_lsb.val())
            | (bit_cast::<TRACE_BITS, VERDICT_CODE_BITS>(self.tr_code.q.val())
                << self.c_tr_code_lsb.val())
            | (bit_cast::<TRACE_BITS, TAG_BITS>(self.tr_tag.q.val()) << self.c_tr_tag_lsb.val())
            | (bit_cast::<TRACE_BITS, 1>(self.ev_host_drop.q.val().into())
                << self.c_tr_hdrop_lsb.val())
            | (bit_cast::<TRACE_BITS, TAG_BITS>(self.tr_hdrop_tag.q.val())
                << self.c_tr_hdrop_tag_lsb.val())
            | (bit_cast::<TRACE_BITS, 1>(self.ev_delivered.q.val().into())
                << self.c_tr_written_lsb.val());
    }
}
