//! The endpoint API (`Net`, `Sender`, `Receiver`) on both backends: order per writer,
//! multicast fan-out, a lost message reported as a gap without waiting for the writer to lap,
//! timeouts, wrong nodes; and a segment read through a separate mapping of the reader node's
//! memory file, in this process and in a child process.

mod common;

use common::{channel_spec as spec, driver, model, pattern, rtl, MEM};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use vassa_driver::channel::{ChannelError, ChannelSpec, Kind};
use vassa_driver::endpoint::DEFAULT_TIMEOUT;
use vassa_driver::{Fabric, Memory, Message, Net, Sender};
use vassa_driver::{SegmentInfo, SegmentView};
use vassa_harness::fabric::DEFAULT_LINK_LATENCY;
use vassa_harness::{ModelFabric, RtlFabric};
use vassa_sim::network::{Fate, InFlight};
use vassa_spec::params::{CoreParams, PAGE_SIZE};

fn net<F: Fabric>(fabric: F) -> Net<F> {
    Net::new(driver(fabric, 10_000))
}

/// Payload of message `seq` of writer `w`.
fn body(w: usize, seq: u64) -> Vec<u8> {
    pattern(
        1 + (seq as usize * 37 + w * 11) % 200,
        (w * 1000) as u32 + seq as u32,
    )
}

/// Two writers sending in bursts to two readers, and a multicast to three: every reader gets
/// each writer's messages once, in order, intact; then nothing more (a prompt timeout).
///
/// The first message of each writer goes alone, received before the next is sent: it makes the
/// readers' cards cache the segment's page (one page here). Packets for pages a card has not
/// cached wait in its miss buffer (two packets by default); on the Verilated cards a burst
/// overflows it, they drop packets (`drop_miss_overflow`), and the readers rightly see gaps.
fn order_and_fanout<F: Fabric>(fabric: F) {
    let net = net(fabric);
    let page = |s| ChannelSpec {
        segment_bytes: PAGE_SIZE,
        ..s
    };
    let m2m = net.open(page(spec(Kind::ManyToMany, &[0, 1], &[2, 3])));
    let multi = net.open(page(spec(Kind::Multicast, &[0], &[1, 2, 3])));
    let (m2m, multi) = (m2m.unwrap(), multi.unwrap());
    let tx = [
        m2m.sender(0).unwrap(),
        m2m.sender(1).unwrap(),
        multi.sender(0).unwrap(),
    ];
    let mut rx = [
        vec![m2m.receiver(2).unwrap(), m2m.receiver(3).unwrap()],
        vec![m2m.receiver(2).unwrap(), m2m.receiver(3).unwrap()],
        [1, 2, 3].map(|r| multi.receiver(r).unwrap()).into(),
    ];
    // Writer index: body(2, _) is the multicast's.
    let check = |i: usize, m: Message, seq| {
        assert_eq!((m.writer, m.seq, m.gap), ([0, 1, 0][i], seq, 0));
        assert_eq!(m.payload, body(i, seq));
    };
    for i in 0..3 {
        assert_eq!(tx[i].send(&body(i, 1)).unwrap(), 1);
        rx[i]
            .iter_mut()
            .for_each(|r| check(i, r.recv().unwrap(), 1));
    }
    // 9 slots per writer region: seq 2..=9 do not lap seq 1's slot.
    for seq in 2..=9u64 {
        for (i, t) in tx.iter().enumerate() {
            assert_eq!(t.send(&body(i, seq)).unwrap(), seq);
        }
    }
    for r in &mut rx[0] {
        let mut next = [2u64, 2];
        for _ in 0..16 {
            let m = r.recv().unwrap();
            let w = m.writer;
            check(w, m, next[w]);
            next[w] += 1;
        }
        let node = r.node();
        assert!(matches!(r.recv(), Err(ChannelError::Timeout { node: n, .. }) if n == node));
        let s = r.stats();
        assert_eq!((s.delivered, s.lost, s.gaps), (18, 0, 0));
    }
    for r in &mut rx[2] {
        for seq in 2..=9 {
            check(2, r.recv().unwrap(), seq);
        }
        assert_eq!(r.try_recv().unwrap(), None);
    }
    assert_eq!((m2m.sent(), multi.sent()), (18, 9));
}

on_both_backends!(
    order_and_fanout_rtl,
    order_and_fanout_model,
    order_and_fanout,
    4
);

/// Multicast from node 0 to nodes 1 and 2, where `send_lost` sends a message whose copy to
/// node 2 is lost on the way. Node 2 gets the next message with a gap of one as soon as it has
/// arrived — its card holds nothing parked, so the lost one will never come; the writer is far
/// from lapping — and a lost newest message times out promptly instead of waiting for the
/// timeout.
fn lost_message<F: Fabric>(fabric: F, send_lost: impl Fn(&Net<F>, &Sender<F>, &[u8])) {
    let net = net(fabric);
    let ch = net.open(spec(Kind::Multicast, &[0], &[1, 2])).unwrap();
    let tx = ch.sender(0).unwrap();
    let mut rx1 = ch.receiver(1).unwrap();
    let mut rx2 = ch.receiver(2).unwrap();
    let check = |m: Message, seq, gap| {
        assert_eq!((m.writer, m.seq, m.gap), (0, seq, gap));
        assert_eq!(m.payload, body(0, seq));
    };
    // Earlier messages routed before one is lost.
    let settle = || assert!(net.with(|c| c.driver.settle(1_000_000)));
    tx.send(&body(0, 1)).unwrap();
    settle();
    send_lost(&net, &tx, &body(0, 2));
    tx.send(&body(0, 3)).unwrap();
    for seq in 1..=3 {
        check(rx1.recv().unwrap(), seq, 0);
    }
    check(rx2.recv().unwrap(), 1, 0);
    let m = rx2.recv().unwrap();
    check(m, 3, 1);
    // The newest message lost: nothing to report it by yet.
    settle();
    send_lost(&net, &tx, &body(0, 4));
    check(rx1.recv().unwrap(), 4, 0);
    match rx2.recv() {
        Err(ChannelError::Timeout { node: 2, waited }) => assert!(waited < DEFAULT_TIMEOUT),
        other => panic!("expected a prompt timeout, got {other:?}"),
    }
    tx.send(&body(0, 5)).unwrap();
    check(rx2.recv().unwrap(), 5, 1);
    check(rx1.recv().unwrap(), 5, 0);
    let s = rx2.stats();
    assert_eq!((s.delivered, s.lost, s.gaps), (3, 2, 2));
    assert_eq!(rx1.stats().lost, 0);
}

#[test]
fn lost_message_model() {
    // The model router has no fault hook: node 2 is unsubscribed while the copy is routed.
    lost_message(model(3), |net, tx, payload| {
        let info = tx.channel().segment(2).unwrap();
        let pages = info.nva_page..info.nva_page + info.bytes / PAGE_SIZE;
        net.with(|c| {
            pages
                .clone()
                .for_each(|p| c.driver.fabric_mut().unsubscribe(p, 2))
        });
        tx.send(payload).unwrap();
        net.with(|c| {
            assert!(c.driver.settle(1_000_000), "routed");
            pages.for_each(|p| c.driver.fabric_mut().subscribe(p, 2));
        });
    });
}

#[test]
fn lost_message_rtl() {
    // The switch drops the next copy for node 2.
    let armed = Rc::new(Cell::new(false));
    let mut fabric = rtl(3);
    let hook = Rc::clone(&armed);
    fabric
        .network_mut()
        .set_fault_hook(move |_, copy: &mut InFlight| {
            if copy.dst == 2 && hook.replace(false) {
                Fate::Drop
            } else {
                Fate::Deliver
            }
        });
    lost_message(fabric, |_, tx, payload| {
        armed.set(true);
        tx.send(payload).unwrap();
    });
    assert!(!armed.get(), "the copy was dropped");
}

/// A zero timeout gives up while the message is in flight; the next recv gets it. With nothing
/// sent, recv gives up as soon as the fabric is settled, well before its timeout.
fn timeouts<F: Fabric>(fabric: F) {
    let net = net(fabric);
    let ch = net.open(spec(Kind::Unicast, &[0], &[1])).unwrap();
    let tx = ch.sender(0).unwrap();
    let mut rx = ch.receiver(1).unwrap().with_timeout(0);
    assert_eq!(rx.timeout(), 0);
    tx.send(b"late").unwrap();
    assert_matches!(rx.recv(), Err(ChannelError::Timeout { node: 1, waited: 0 }));
    rx.set_timeout(DEFAULT_TIMEOUT);
    assert_eq!(rx.recv().unwrap().payload, b"late");
    match rx.recv() {
        Err(ChannelError::Timeout { node: 1, waited }) => assert!(waited < 10_000, "{waited}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

on_both_backends!(timeouts_rtl, timeouts_model, timeouts, 2);

#[test]
fn wrong_nodes_and_messages_are_errors() {
    let net = net(model(4));
    let ch = net.open(spec(Kind::Multicast, &[0], &[1, 2])).unwrap();
    assert_matches!(ch.sender(1), Err(ChannelError::NotAWriter { node: 1 }));
    assert_matches!(ch.receiver(0), Err(ChannelError::NotAReader { node: 0 }));
    assert_matches!(ch.receiver(9), Err(ChannelError::NotAReader { node: 9 }));
    assert_matches!(ch.segment(3), Err(ChannelError::NotAMember { node: 3 }));
    assert_matches!(ch.segment(99), Err(ChannelError::NotAMember { node: 99 }));
    let tx = ch.sender(0).unwrap();
    assert_matches!(
        tx.send(&[0; 201]),
        Err(ChannelError::TooLong { len: 201, max: 200 })
    );
    assert_matches!(
        net.open(spec(Kind::Unicast, &[0], &[0])),
        Err(ChannelError::Shape { .. })
    );
}

// ---- Segments mapped from the memory files ----------------------------------------------------

const VIEW_FILE: &str = "VASSA_TEST_VIEW_FILE";
const VIEW_INFO: &str = "VASSA_TEST_VIEW_INFO";

/// What a reader got: (writer, seq, gap, payload).
type Got = (usize, u64, u64, Vec<u8>);

/// One message as the child process prints it.
fn line((writer, seq, gap, payload): &Got) -> String {
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    format!("MSG {writer} {seq} {gap} {hex}")
}

/// Reads a segment as another process does; run by [`segment_view`] as a child process
/// (does nothing in a normal test run).
#[test]
fn segment_view_child() {
    let (Some(file), Some(info)) = (std::env::var_os(VIEW_FILE), std::env::var_os(VIEW_INFO))
    else {
        return;
    };
    let info: SegmentInfo = toml::from_str(info.to_str().unwrap()).unwrap();
    let mut view = SegmentView::open(Path::new(&file), info).unwrap();
    while let Some((w, d)) = view.try_recv() {
        println!("{}", line(&(w, d.seq, d.gap, d.payload)));
    }
}

/// Many-to-many, writers 0 and 1, readers 1 and 2, node memories mapped from files: what a
/// separate read-only mapping of node 2's file yields — here and in a child process — is
/// exactly what node 2's receiver got (in another order: the view reads writer by writer).
fn segment_view<F: Fabric>(make: impl FnOnce(Vec<Memory>) -> F) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..3)
        .map(|n| dir.path().join(format!("node{n}.mem")))
        .collect();
    let mems = paths.iter().map(|p| Memory::map_file(p, MEM).unwrap());
    let net = net(make(mems.collect()));
    // A channel before it, so the segment is not at the first page.
    net.open(spec(Kind::Unicast, &[0], &[2])).unwrap();
    let ch = net
        .open(ChannelSpec {
            segment_bytes: PAGE_SIZE,
            ..spec(Kind::ManyToMany, &[0, 1], &[1, 2])
        })
        .unwrap();
    let tx = [ch.sender(0).unwrap(), ch.sender(1).unwrap()];
    let mut rx = ch.receiver(2).unwrap();
    let mut got: Vec<Got> = vec![];
    let mut recv = || {
        let m = rx.recv().unwrap();
        got.push((m.writer, m.seq, m.gap, m.payload));
    };
    // Each writer's first message alone, so node 2's card caches the page (see
    // `order_and_fanout`).
    for seq in 1..=6 {
        for (w, t) in tx.iter().enumerate() {
            t.send(&body(w, seq)).unwrap();
            if seq == 1 {
                recv();
            }
        }
    }
    (0..10).for_each(|_| recv());
    assert!(matches!(rx.recv(), Err(ChannelError::Timeout { .. })));
    got.sort();

    let info = ch.segment(2).unwrap();
    assert_eq!(
        (info.node, info.bytes, info.regions.len()),
        (2, PAGE_SIZE, 2)
    );
    assert_eq!(info.offset % PAGE_SIZE as u64, 0);
    assert!(info.offset > 0);
    assert_eq!(info.regions[1].writer, 1);
    let mut view = SegmentView::open(&paths[2], info.clone()).unwrap();
    let mut seen = vec![];
    while let Some((w, d)) = view.try_recv() {
        seen.push((w, d.seq, d.gap, d.payload));
    }
    assert_eq!(seen, got);
    assert_eq!(view.stats(), rx.stats());

    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "segment_view_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(VIEW_FILE, &paths[2])
        .env(VIEW_INFO, toml::to_string(&info).unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    // The test harness may print its own words in front of the child's first line.
    let child: Vec<&str> = (stdout.lines())
        .filter_map(|l| l.find("MSG ").map(|at| &l[at..]))
        .collect();
    assert_eq!(child, got.iter().map(line).collect::<Vec<_>>());
}

#[test]
fn segment_view_model() {
    segment_view(|mems| ModelFabric::new(&CoreParams::default(), mems));
}

#[test]
fn segment_view_rtl() {
    segment_view(|mems| RtlFabric::new(mems, DEFAULT_LINK_LATENCY));
}

#[test]
fn segment_view_rejects_bad_segments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.mem");
    drop(Memory::map_file(&path, 4 * PAGE_SIZE as usize).unwrap());
    let net = net(model(2));
    let info = net
        .open(spec(Kind::Unicast, &[0], &[1]))
        .unwrap()
        .segment(1)
        .unwrap();
    let err = |info: SegmentInfo| SegmentView::open(&path, info).err().unwrap().to_string();
    let far = SegmentInfo {
        offset: 3 * PAGE_SIZE as u64,
        ..info.clone()
    };
    assert!(err(far).contains("the file has 16384 bytes, the segment ends at byte 20480"));
    let odd = SegmentInfo {
        offset: 100,
        ..info.clone()
    };
    assert_eq!(err(odd), "segment offset 0x64 is not on a 4 KiB page");
    let mut wrong = info.clone();
    wrong.layout.slots += 1;
    assert!(err(wrong).starts_with("segment layout"));
    let missing = dir.path().join("none.mem");
    assert!(SegmentView::open(&missing, info).is_err());
}
