//! Channel semantics on both backends: ordering, multicast fan-out, many-to-many, a slow reader
//! that gets lapped (a gap, never a torn message), and the shape checks.

mod common;

use common::{channel_spec as spec, driver, model, pattern, rtl};
use vassa_driver::channel::{ChannelError, ChannelSpec, Channels, Kind};
use vassa_driver::Fabric;

const WAIT: u64 = 200_000;

on_both_backends!(
    ordering_and_fanout_rtl,
    ordering_and_fanout_model,
    ordering_and_fanout,
    3
);
on_both_backends!(lapped_reader_rtl, lapped_reader_model, lapped_reader, 3);
on_both_backends!(many_to_many_rtl, many_to_many_model, many_to_many, 4);

/// Every message a reader gets is the one sent with that sequence number, in order, and with
/// no reader falling behind none is lost.
fn ordering_and_fanout<F: Fabric>(fabric: F) {
    let mut ch = Channels::new(driver(fabric, 10_000));
    let uni = ch.open(spec(Kind::Unicast, &[0], &[1])).unwrap();
    let multi = ch.open(spec(Kind::Multicast, &[2], &[0, 1])).unwrap();
    for i in 0..40u32 {
        let len = 1 + (i * 37 % 200) as usize;
        assert_eq!(ch.send(uni, 0, &pattern(len, i)).unwrap(), i as u64 + 1);
        ch.send(multi, 2, &pattern(len, 1000 + i)).unwrap();
        for (c, r, seed) in [(uni, 1, i), (multi, 0, 1000 + i), (multi, 1, 1000 + i)] {
            let (writer, d) = ch.recv(c, r, WAIT).unwrap().expect("message arrives");
            assert_eq!(writer, if c == uni { 0 } else { 2 });
            assert_eq!((d.seq, d.gap), (i as u64 + 1, 0));
            assert_eq!(d.payload, pattern(len, seed));
        }
    }
    for (c, r) in [(uni, 1), (multi, 0), (multi, 1)] {
        let s = ch.reader_stats(c, r).unwrap();
        assert_eq!((s.delivered, s.lost, s.gaps), (40, 0, 0));
        assert!(ch.try_recv(c, r).unwrap().is_none());
    }
}

/// A reader that does not read while the writer goes round the slots twice sees a gap, then
/// only complete messages in order; the writer never waited.
fn lapped_reader<F: Fabric>(fabric: F) {
    let mut ch = Channels::new(driver(fabric, 10_000));
    let c = ch.open(spec(Kind::Multicast, &[0], &[1, 2])).unwrap();
    let slots = {
        let s = spec(Kind::Multicast, &[0], &[1, 2]);
        vassa_driver::segment::Layout::new(s.segment_bytes, 1, s.max_message)
            .unwrap()
            .slots as u64
    };
    let total = 3 * slots;
    for i in 0..total {
        ch.send(c, 0, &pattern(150, i as u32)).unwrap();
        // Reader 1 keeps up; reader 2 sleeps.
        let (_, d) = ch.recv(c, 1, WAIT).unwrap().expect("message arrives");
        assert_eq!(d.seq, i + 1);
    }
    ch.driver.settle(WAIT);
    let mut last = 0;
    while let Some((_, d)) = ch.try_recv(c, 2).unwrap() {
        assert_eq!(
            d.payload,
            pattern(150, d.seq as u32 - 1),
            "never torn or mixed"
        );
        assert_eq!(d.seq, last + 1 + d.gap);
        last = d.seq;
    }
    assert_eq!(last, total, "the reader catches up with the newest message");
    let s = ch.reader_stats(c, 2).unwrap();
    assert!(s.gaps >= 1 && s.lost >= total - slots, "{s:?}");
    assert_eq!(s.delivered + s.lost, total);
}

/// Two writers, three readers (one of them also a writer): each reader gets every writer's
/// messages in that writer's order.
fn many_to_many<F: Fabric>(fabric: F) {
    let mut ch = Channels::new(driver(fabric, 10_000));
    let c = ch
        .open(ChannelSpec {
            segment_bytes: 16384,
            ..spec(Kind::ManyToMany, &[0, 1], &[1, 2, 3])
        })
        .unwrap();
    for i in 0..10u32 {
        ch.send(c, 0, &pattern(64, i)).unwrap();
        ch.send(c, 1, &pattern(100, 100 + i)).unwrap();
    }
    ch.driver.settle(WAIT);
    for r in [1, 2, 3] {
        let mut next = [1u64, 1];
        while let Some((w, d)) = ch.try_recv(c, r).unwrap() {
            let k = w;
            assert_eq!(d.seq, next[k], "reader {r}, writer {w}");
            let want = if w == 0 {
                pattern(64, d.seq as u32 - 1)
            } else {
                pattern(100, 100 + d.seq as u32 - 1)
            };
            assert_eq!(d.payload, want);
            next[k] += 1;
        }
        assert_eq!(next, [11, 11], "reader {r} got everything");
    }
}

#[test]
fn bad_shapes_and_messages_are_errors() {
    let mut ch = Channels::new(driver(model(3), 10_000));
    for bad in [
        spec(Kind::Unicast, &[0], &[1, 2]),
        spec(Kind::Multicast, &[0, 1], &[2]),
        spec(Kind::Unicast, &[0], &[0]),
        spec(Kind::ManyToMany, &[0, 0], &[1]),
    ] {
        assert!(
            matches!(ch.open(bad.clone()), Err(ChannelError::Shape { .. })),
            "{bad:?}"
        );
    }
    assert!(matches!(
        ch.open(ChannelSpec {
            segment_bytes: 5000,
            ..spec(Kind::Unicast, &[0], &[1])
        }),
        Err(ChannelError::SegmentNotPages(5000))
    ));
    // A message record must fit one doorbell (its 16-bit length): refused when opened.
    assert!(matches!(
        ch.open(ChannelSpec {
            segment_bytes: 256 << 10,
            max_message: 70_000,
            ..spec(Kind::Unicast, &[0], &[1])
        }),
        Err(ChannelError::RecordTooLong { record: 70_024, .. })
    ));
    // A doorbell too long for its length field is its own error, not a full FIFO.
    assert!(matches!(
        ch.driver.doorbell(0, 4096, 0x1_0000, false),
        Err(vassa_driver::DriverError::BadLength {
            node: 0,
            length: 0x1_0000
        })
    ));
    let c = ch.open(spec(Kind::Unicast, &[0], &[1])).unwrap();
    assert!(matches!(
        ch.send(c, 0, &[0; 201]),
        Err(ChannelError::TooLong { len: 201, .. })
    ));
    assert!(matches!(
        ch.send(c, 1, b"x"),
        Err(ChannelError::NotAWriter { node: 1 })
    ));
    assert!(matches!(
        ch.try_recv(c, 2),
        Err(ChannelError::NotAReader { node: 2 })
    ));
}

/// A writer that also reads its channel sends back to back, laps its slots, with cold caches.
/// Its card's copies of its own packets come back through the switch, late when they park on
/// an RX miss: they must never land where the writer stages its newer messages (they did,
/// and the card then sent old records under new doorbells). Every reader ends with the
/// writer's newest messages, intact.
fn writer_that_reads_laps_its_slots<F: Fabric>(fabric: F) {
    let mut ch = Channels::new(driver(fabric, 10_000));
    let s = spec(Kind::ManyToMany, &[0, 1], &[0, 1, 2]);
    let slots = vassa_driver::segment::Layout::new(s.segment_bytes, 2, s.max_message)
        .unwrap()
        .slots as u64;
    let c = ch.open(s).unwrap();
    let total = 3 * slots;
    for i in 0..total {
        ch.send(c, 1, &pattern(200, 7000 + i as u32)).unwrap();
    }
    ch.driver.settle(WAIT);
    for r in [0, 1, 2] {
        let mut last = 0;
        while let Some((w, d)) = ch.try_recv(c, r).unwrap() {
            assert_eq!(w, 1);
            assert_eq!(d.payload, pattern(200, 7000 + d.seq as u32 - 1));
            assert_eq!(d.seq, last + 1 + d.gap, "reader {r}");
            last = d.seq;
        }
        assert_eq!(last, total, "reader {r} ends with the newest message");
    }
}

#[test]
fn writer_that_reads_laps_its_slots_model() {
    writer_that_reads_laps_its_slots(model(3));
}

#[test]
fn writer_that_reads_laps_its_slots_rtl() {
    writer_that_reads_laps_its_slots(rtl(3));
}
