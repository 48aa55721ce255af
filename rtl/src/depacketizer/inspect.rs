//! Read-only views of the depacketizer's internal state, for the behaviour tests in
//! `rtl/tests/rx_path.rs` (they check that nothing is left over once traffic has stopped and
//! count withdrawn retries). The logic does not use them.

use super::{Depacketizer, RetryState, RA};
use rust_hdl::prelude::*;

impl Depacketizer {
    /// High in a cycle whose retry lookup is withdrawn because `lookup.hold` rose in it.
    pub fn retry_withdrawn(&self) -> &Signal<Local, Bit> {
        &self.retry_withdrawn
    }

    /// Per miss buffer: in use (storing, parked, or being retried).
    pub fn miss_buffer_busy(&self) -> &[DFF<Bit>] {
        &self.mbuf_busy
    }

    /// Per miss buffer: resolved by the host, its retry lookup not yet issued.
    pub fn retry_requested(&self) -> &[DFF<Bit>] {
        &self.mbuf_retry_req
    }

    /// The job queue of ring packets is empty.
    pub fn job_queue_empty(&self) -> &Signal<Out, Bit> {
        &self.jq.empty
    }

    /// The receive ring's write pointer.
    pub fn ring_write_pointer(&self) -> &DFF<Bits<RA>> {
        &self.ring_wp
    }

    /// The receive ring's read pointer (start of the next packet for the writer).
    pub fn ring_read_pointer(&self) -> &DFF<Bits<RA>> {
        &self.ring_rd
    }

    /// The receive ring's free pointer (start of the oldest packet not yet written).
    pub fn ring_free_pointer(&self) -> &DFF<Bits<RA>> {
        &self.ring_free
    }

    /// `drop_malformed` pulses still to come.
    pub fn malformed_pending(&self) -> &DFF<Bits<3>> {
        &self.mal_pending
    }

    /// The state of the retry of a parked packet.
    pub fn retry_state(&self) -> &DFF<RetryState> {
        &self.rt_state
    }
}
