//! Three Verilated cards behind the switch: multicast and unicast delivery, fault hooks,
//! injected words, unroutable packets.

use vassa_sim::network::{Fate, Network};
use vassa_sim::LinkWord;
use vassa_spec::regmap as rm;

const MCAST_PAGE: u32 = 0x700; // NVA page of the multicast channel
const UCAST_PAGE: u32 = 0x701; // NVA page of the unicast channel

fn install(net: &mut Network, node: usize, tx: bool, slot: u32, key: u32, page: u32, counter: u32) {
    let card = &mut net.nodes[node].card;
    let attr = rm::map_attr(!tx, !tx, counter, 1);
    for (addr, value) in rm::install_writes(tx, slot, key, page, attr) {
        card.queue_write(addr, value);
    }
}

fn read(net: &mut Network, node: usize, addr: u32) -> u32 {
    net.nodes[node].card.queue_read(addr);
    for _ in 0..200 {
        net.step();
        if let Some(v) = net.nodes[node].card.take_read() {
            return v;
        }
    }
    panic!("read of {addr:#x} on node {node} not answered");
}

/// Node 0 writes; nodes 1 and 2 subscribe to the multicast page, node 2 alone to the unicast
/// page. Physical pages: node 0 sends from 0x10 (mcast) and 0x11 (ucast); receivers map the
/// multicast page to 0x30 and the unicast page to 0x31.
fn three_nodes(latency: u64) -> Network {
    let mut net = Network::new(3, 1 << 20, latency);
    install(&mut net, 0, true, 0, 0x10, MCAST_PAGE, 1);
    install(&mut net, 0, true, 1, 0x11, UCAST_PAGE, 2);
    for node in [1, 2] {
        install(&mut net, node, false, 0, MCAST_PAGE, 0x30, 1);
        net.subscribe(MCAST_PAGE, node);
    }
    install(&mut net, 2, false, 1, UCAST_PAGE, 0x31, 2);
    net.subscribe(UCAST_PAGE, 2);
    net
}

fn send(net: &mut Network, phys: u32, bytes: &[u8]) {
    let node = &mut net.nodes[0];
    node.mem[phys as usize..phys as usize + bytes.len()].copy_from_slice(bytes);
    node.card.queue_write(rm::DB_ADDR.offset, phys);
    node.card
        .queue_write(rm::DB_PUSH.offset, bytes.len() as u32);
}

fn settle(net: &mut Network) {
    // 200 quiet cycles: longer than any doorbell-to-first-word or end-to-write delay.
    assert!(net.run_until_quiet(200, 50_000), "network did not go quiet");
}

#[test]
fn multicast_reaches_every_subscriber_and_unicast_only_one() {
    let mut net = three_nodes(5);
    let m: Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
    let u: Vec<u8> = (0..90u32).map(|i| (i * 3 + 1) as u8).collect();
    send(&mut net, 0x10_004, &m);
    send(&mut net, 0x11_002, &u);
    settle(&mut net);
    for node in [1, 2] {
        assert_eq!(
            &net.nodes[node].mem[0x30_004..0x30_004 + m.len()],
            &m[..],
            "node {node}"
        );
    }
    assert_eq!(&net.nodes[2].mem[0x31_002..0x31_002 + u.len()], &u[..]);
    assert!(
        net.nodes[1].mem[0x31_000..0x32_000].iter().all(|&b| b == 0),
        "node 1 not subscribed"
    );
    // 600 bytes from offset 4: 256 + 256 + 88 -> 3 packets, fan-out 2; plus 1 unicast packet.
    assert_eq!(net.stats().packets_in, 4);
    assert_eq!(net.stats().copies_out, 7);
    assert_eq!(read(&mut net, 1, rm::slot_counter_addr(1, 2)), 3);
    assert_eq!(read(&mut net, 2, rm::slot_counter_addr(1, 3)), 600);
    assert_eq!(read(&mut net, 2, rm::slot_counter_addr(2, 3)), 90);
    assert_eq!(
        read(&mut net, 0, rm::slot_counter_addr(1, 0)),
        3,
        "sender counts packets once"
    );
}

#[test]
fn faults_are_counted_where_they_land() {
    let mut net = three_nodes(2);
    // Copy to node 1: flip a payload bit. Copy to node 2: duplicate.
    net.set_fault_hook(|_, copy| {
        if copy.dst == 1 {
            copy.words[3].data ^= 0x0100;
            Fate::Deliver
        } else {
            Fate::Duplicate
        }
    });
    let m: Vec<u8> = (0..64u32).map(|i| i as u8 ^ 0x5A).collect();
    send(&mut net, 0x10_000, &m);
    settle(&mut net);
    let crc = rm::global_counter_addr(rm::global_counter_index("drop_crc_epoch") as u32);
    assert_eq!(
        read(&mut net, 1, crc),
        1,
        "corrupted copy dropped by node 1"
    );
    assert!(net.nodes[1].mem[0x30_000..0x30_040].iter().all(|&b| b == 0));
    assert_eq!(&net.nodes[2].mem[0x30_000..0x30_040], &m[..]);
    assert_eq!(
        read(&mut net, 2, rm::slot_counter_addr(1, 2)),
        2,
        "duplicate delivered twice"
    );
    assert_eq!(net.stats().fault_duplicated, 1);
}

#[test]
fn unroutable_packets_and_injected_garbage_are_counted() {
    let mut net = three_nodes(1);
    // A TX mapping to a page nobody subscribes to.
    install(&mut net, 0, true, 2, 0x12, 0x7FF, 0);
    send(&mut net, 0x12_000, &[1, 2, 3, 4]);
    // Words without a start of packet into node 1.
    let stray = LinkWord {
        valid: true,
        sop: false,
        eop: true,
        data: 0xDEAD,
    };
    net.inject(1, vec![stray], 50);
    settle(&mut net);
    assert_eq!(net.stats().unroutable, 1);
    let malformed = rm::global_counter_addr(rm::global_counter_index("drop_malformed") as u32);
    assert_eq!(read(&mut net, 1, malformed), 1);
}
