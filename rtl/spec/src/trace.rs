//! The core's receive trace: the `rx_trace` output port, which tells what became of every
//! received packet, cycle by cycle.
//!
//! It is an observation port for simulation and debug (a board top leaves it unconnected and
//! synthesis removes it). The simulator matches it to the packet copies it put on each card's
//! link, so it can say which copy was written and which was dropped for which reason: the
//! per-message loss accounting rests on it, and its counts are checked against the card's own
//! drop counters. Every bit is a registered pulse, high for one cycle.
//!
//! - A *verdict* is decided for every *link packet* — a run of link words that starts with
//!   start of packet, ends with end of packet, has at least two words and no start of packet
//!   inside — in the order the packets ended on the link, and for every *retry* of a parked
//!   packet. Runs cut by a start of packet, one-word runs and stray words get no verdict: they
//!   are counted `drop_malformed` directly.
//! - A *host drop* is a resolve with `drop` for a miss buffer that waited for one: its packet
//!   is dropped (`drop_miss_dropped`).
//! - *Written* is a packet's last beat written to memory (the RX packet counter counts it).
//!
//! Pulses come in the cycle the corresponding `drop_*` event pulses (the cycle after the
//! decision); `written` with the delivery event.

use crate::{field as f, Field};

/// Width of the `rx_trace` port.
pub const RX_TRACE_BITS: u32 = 16;

pub const VERDICT_VALID: Field = f("verdict_valid", 0, 1, "a verdict was decided");
pub const VERDICT_LINK: Field = f(
    "verdict_link",
    1,
    1,
    "1: for the oldest link packet without one; 0: for a retry of the parked packet in verdict_tag",
);
pub const VERDICT_CODE: Field = f("verdict_code", 2, 3, "what was decided (see the codes)");
pub const VERDICT_TAG: Field = f(
    "verdict_tag",
    5,
    4,
    "miss buffer: where a link packet was parked, or which one was retried",
);
pub const HOST_DROP_VALID: Field = f(
    "host_drop_valid",
    9,
    1,
    "a resolve with drop discarded the packet parked in host_drop_tag",
);
pub const HOST_DROP_TAG: Field = f("host_drop_tag", 10, 4, "miss buffer of the dropped packet");
pub const WRITTEN: Field = f(
    "written",
    14,
    1,
    "a packet's last beat was written to memory (delivered)",
);

/// Every field of `rx_trace`, low bits first.
pub const RX_TRACE_FIELDS: [Field; 7] = [
    VERDICT_VALID,
    VERDICT_LINK,
    VERDICT_CODE,
    VERDICT_TAG,
    HOST_DROP_VALID,
    HOST_DROP_TAG,
    WRITTEN,
];

/// What a verdict decided (`verdict_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// The packet is written (a write job): `written` follows.
    Accepted = 0,
    /// Its page missed: a link packet is parked in `verdict_tag` and a miss posted; a retry
    /// missed again and stays parked (the miss is posted again).
    Parked = 1,
    /// Dropped, `drop_rx_overrun`: no room in the receive ring or its job queue.
    RxOverrun = 2,
    /// Dropped, `drop_malformed`: length or word count wrong.
    Malformed = 3,
    /// Dropped, `drop_crc_epoch`: the trailer does not match, or the mapping's epoch is not
    /// the packet's.
    CrcEpoch = 4,
    /// Dropped, `drop_miss_overflow`: its page missed and no miss buffer was free.
    MissOverflow = 5,
    /// Dropped, `drop_protection`: the page is not writable or the packet runs past it.
    Protection = 6,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Accepted,
        Verdict::Parked,
        Verdict::RxOverrun,
        Verdict::Malformed,
        Verdict::CrcEpoch,
        Verdict::MissOverflow,
        Verdict::Protection,
    ];

    pub const fn code(self) -> u32 {
        self as u32
    }

    pub fn from_code(code: u32) -> Option<Verdict> {
        Verdict::ALL.get(code as usize).copied()
    }

    /// The global counter that counts a packet dropped by this verdict (`None`: not a drop).
    pub const fn drop_counter(self) -> Option<&'static str> {
        match self {
            Verdict::Accepted | Verdict::Parked => None,
            Verdict::RxOverrun => Some("drop_rx_overrun"),
            Verdict::Malformed => Some("drop_malformed"),
            Verdict::CrcEpoch => Some("drop_crc_epoch"),
            Verdict::MissOverflow => Some("drop_miss_overflow"),
            Verdict::Protection => Some("drop_protection"),
        }
    }

    pub const fn doc(self) -> &'static str {
        match self {
            Verdict::Accepted => "written to memory (`written` follows)",
            Verdict::Parked => "page missed: parked in `verdict_tag` (a retry: still missing)",
            Verdict::RxOverrun => "dropped: no room in the receive ring or job queue",
            Verdict::Malformed => "dropped: length or word count wrong",
            Verdict::CrcEpoch => "dropped: trailer or mapping epoch does not match",
            Verdict::MissOverflow => "dropped: page missed, no miss buffer free",
            Verdict::Protection => "dropped: page not writable, or packet runs past it",
        }
    }
}

/// One cycle of `rx_trace`, decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxTrace {
    /// (link packet?, what, miss buffer).
    pub verdict: Option<(bool, Verdict, u32)>,
    /// Miss buffer whose parked packet the host dropped.
    pub host_drop: Option<u32>,
    pub written: bool,
}

impl RxTrace {
    /// Decodes a port value; an undefined verdict code decodes as no verdict (it cannot come
    /// from the core).
    pub fn decode(word: u32) -> RxTrace {
        let verdict = (VERDICT_VALID.get(word) != 0)
            .then(|| Verdict::from_code(VERDICT_CODE.get(word)))
            .flatten()
            .map(|v| (VERDICT_LINK.get(word) != 0, v, VERDICT_TAG.get(word)));
        RxTrace {
            verdict,
            host_drop: (HOST_DROP_VALID.get(word) != 0).then(|| HOST_DROP_TAG.get(word)),
            written: WRITTEN.get(word) != 0,
        }
    }

    pub fn encode(&self) -> u32 {
        let mut w = 0;
        if let Some((link, v, tag)) = self.verdict {
            w = VERDICT_VALID.put(w, 1);
            w = VERDICT_LINK.put(w, link as u32);
            w = VERDICT_CODE.put(w, v.code());
            w = VERDICT_TAG.put(w, tag);
        }
        if let Some(tag) = self.host_drop {
            w = HOST_DROP_VALID.put(w, 1);
            w = HOST_DROP_TAG.put(w, tag);
        }
        WRITTEN.put(w, self.written as u32)
    }

    /// Nothing happened this cycle.
    pub fn is_idle(word: u32) -> bool {
        word == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_tile_the_port_without_overlap() {
        let mut used = 0u32;
        for f in RX_TRACE_FIELDS {
            assert_eq!(used & f.mask(), 0, "{} overlaps", f.name);
            used |= f.mask();
        }
        assert!(used < 1 << RX_TRACE_BITS);
        for v in Verdict::ALL {
            assert_eq!(Verdict::from_code(v.code()), Some(v));
            assert!(v.code() <= VERDICT_CODE.max());
        }
        // The tag fields hold every miss buffer number.
        let most = crate::params::param_info("miss_buffer_packets").max;
        assert!(VERDICT_TAG.max() + 1 >= most);
        assert_eq!(VERDICT_TAG.width, HOST_DROP_TAG.width);
    }

    #[test]
    fn encode_then_decode() {
        let cases = [
            RxTrace::default(),
            RxTrace {
                verdict: Some((true, Verdict::Parked, 1)),
                host_drop: Some(3),
                written: true,
            },
            RxTrace {
                verdict: Some((false, Verdict::Protection, 7)),
                host_drop: None,
                written: false,
            },
        ];
        for t in cases {
            assert_eq!(RxTrace::decode(t.encode()), t);
        }
        assert!(RxTrace::is_idle(RxTrace::default().encode()));
    }
}
