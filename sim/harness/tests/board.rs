//! The board backend on a simulated XEM6010 board (`SimEndpoints`: the Verilated card behind
//! its FrontPanel bridge): raw register and memory round trips, refusals, and the driver and a
//! channel over loopback. Every operation goes through the same protocol code the real board
//! uses (`BoardFabric`), only the endpoints differ.

mod common;

use common::{channel_spec, pattern};
use proptest::prelude::*;
use std::time::Instant;
use vassa_driver::board::{BoardError, BoardFabric, CHUNK_BYTES};
use vassa_driver::channel::{ChannelSpec, Channels, Kind};
use vassa_driver::segment::record_bytes;
use vassa_driver::{Dir, Driver, DriverConfig, Fabric};
use vassa_harness::board_sim::SimEndpoints;
use vassa_spec::board::fp;
use vassa_spec::packet::split_message;
use vassa_spec::regmap as rm;

fn board() -> BoardFabric<SimEndpoints> {
    BoardFabric::open(SimEndpoints::new()).expect("the simulated board runs a VASSA bitstream")
}

#[test]
fn open_sizes_memory_and_registers_round_trip() {
    let mut b = board();
    assert!(b.loopback());
    assert_eq!(b.mem_size(0), b.endpoints().sim().mem_bytes());
    assert_eq!(b.read_reg(0, rm::ID.offset), rm::MAGIC);
    let t0 = b.cycle();
    b.write_reg(0, rm::NODE_ID.offset, 0x5A);
    b.write_reg(0, rm::IRQ_MASK.offset, rm::IRQ_MISS.mask());
    let t1 = b.cycle();
    assert_eq!(b.read_reg(0, rm::NODE_ID.offset), 0x5A);
    assert_eq!(b.read_reg(0, rm::IRQ_MASK.offset), rm::IRQ_MISS.mask());
    let t2 = b.cycle();
    eprintln!(
        "register write {} core cycles, read {}",
        (t1 - t0) / 2,
        (t2 - t1) / 2
    );
    assert!(!b.irq(0));
    assert_eq!(b.board_errors(), Ok(0));
}

#[test]
fn the_ends_of_memory() {
    let mut b = board();
    let end = b.mem_size(0) as u32;
    b.mem_write(0, end - 3, &[1, 2, 3]);
    b.mem_write(0, end - 6, &[4, 5]);
    let mut got = [0u8; 6];
    b.mem_read(0, end - 6, &mut got);
    assert_eq!(got[..2], [4, 5]);
    assert_eq!(got[3..], [1, 2, 3]);
    b.mem_write(0, 0, &[9; 5]);
    let mut got = [0u8; 5];
    b.mem_read(0, 0, &mut got);
    assert_eq!(got, [9; 5]);
    let e = b.try_mem_read(end - 2, &mut [0; 3]).unwrap_err();
    assert!(matches!(e, BoardError::OutOfRange { .. }), "{e}");
    assert_eq!(b.stats().refused, 0);
}

#[test]
fn refused_commands_surface_as_errors_and_the_link_recovers() {
    let mut b = board();
    let end = b.mem_size(0) as u32;
    let e = b.write_chunk(end - 4, &[7; 8]).unwrap_err();
    assert_eq!(
        e,
        BoardError::Refused {
            op: "memory write",
            addr: end - 4,
            words: 2,
            errors: 1
        }
    );
    let e = b.read_chunk(end, &mut [0; 4]).unwrap_err();
    assert!(
        matches!(
            e,
            BoardError::Refused {
                op: "memory read",
                errors: 2,
                ..
            }
        ),
        "{e}"
    );
    // Nothing was written by the refused write, and the next commands work.
    let mut last = [0u8; 4];
    b.mem_read(0, end - 4, &mut last);
    assert_eq!(last, [0; 4]);
    b.mem_write(0, end - 4, &[1, 2, 3, 4]);
    b.mem_read(0, end - 4, &mut last);
    assert_eq!(last, [1, 2, 3, 4]);
    // The board refuses a write whose data is short (fewer halves in the pipe-in FIFO than
    // mem_words asks for): driven on the endpoints directly.
    use vassa_driver::board::Endpoints;
    let ep = b.endpoints_mut();
    for (w, v) in [
        (fp::WI_MEM_ADDR_LO, 0),
        (fp::WI_MEM_ADDR_HI, 0),
        (fp::WI_MEM_WORDS, 4),
    ] {
        ep.set_wire_in(w.addr, v).unwrap();
    }
    ep.update_wire_ins().unwrap();
    ep.write_to_pipe_in(fp::PIPE_IN_MEM.addr, &[5; 8]).unwrap();
    ep.activate_trigger_in(fp::TI_COMMAND.addr, fp::CMD_MEM_WRITE.lsb)
        .unwrap();
    ep.advance(3_000);
    ep.update_trigger_outs().unwrap();
    assert!(ep.is_triggered(fp::TO_EVENTS.addr, fp::EV_ERROR.mask() as u16));
    assert!(!ep.is_triggered(fp::TO_EVENTS.addr, fp::EV_MEM_DONE.mask() as u16));
    assert_eq!(b.board_errors(), Ok(3));
    let mut first = [0u8; 16];
    b.mem_read(0, 0, &mut first);
    assert_eq!(first, [0; 16], "nothing written");
}

/// Bytes of memory the model covers: four chunks.
const REGION: usize = 4 * CHUNK_BYTES;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// Writes and reads at any byte address and length (unaligned edges, across chunk
    /// boundaries) against a Vec model of the memory.
    #[test]
    fn memory_matches_a_vec_model(
        ops in prop::collection::vec(
            (any::<bool>(), 0..REGION as u32, 0usize..2 * CHUNK_BYTES + 9, any::<u32>()),
            4..9,
        )
    ) {
        let mut b = board();
        let mut model = vec![0u8; REGION];
        b.mem_read(0, 0, &mut model);
        for (write, addr, len, seed) in ops {
            let len = len.min(REGION - addr as usize);
            let r = addr as usize..addr as usize + len;
            if write {
                let bytes = pattern(len, seed);
                b.mem_write(0, addr, &bytes);
                model[r].copy_from_slice(&bytes);
            } else {
                let mut buf = vec![0u8; len];
                b.mem_read(0, addr, &mut buf);
                prop_assert_eq!(&buf[..], &model[r]);
            }
        }
        let mut all = vec![0u8; REGION];
        b.mem_read(0, 0, &mut all);
        prop_assert_eq!(all, model);
        prop_assert_eq!(b.stats().refused, 0);
    }
}

/// The real thing: the driver and a channel on one board in loopback. Node 0 writes and reads
/// the channel (it sends from a segment of its own, its packets come back into the one it
/// reads); every message arrives once, verified byte for byte; the card's counters agree; then
/// with the RX cache emptied the next message misses and the driver services it through the
/// board's irq.
#[test]
fn a_channel_over_loopback() {
    let t = Instant::now();
    let config = DriverConfig::polling_every(200_000);
    let driver = Driver::new(board(), config).expect("the card answers");
    let mut ch = Channels::new(driver);
    let c = ch
        .open(ChannelSpec {
            max_message: 120,
            ..channel_spec(Kind::ManyToMany, &[0], &[0])
        })
        .unwrap();
    assert_ne!(ch.segment_range(c, 0), ch.tx_segment_range(c, 0));
    let wait = 400_000;
    const N: u64 = 30;
    let max_payload = ch.driver.info(0).max_payload;
    // Packets the card must send: a record that crosses a page goes as two.
    let mut packets = 0;
    for i in 0..N {
        let msg = pattern(1 + (i as usize * 37) % 120, i as u32);
        let at = ch.slot_addr(c, 0, i + 1).unwrap();
        packets += split_message(at, record_bytes(msg.len() as u32), max_payload).len() as u64;
        assert_eq!(ch.send(c, 0, &msg).unwrap(), i + 1);
        let (writer, d) = ch.recv(c, 0, wait).unwrap().expect("message arrives");
        assert_eq!((writer, d.seq, d.gap), (0, i + 1, 0));
        assert_eq!(d.payload, msg);
    }
    let s = ch.reader_stats(c, 0).unwrap();
    assert_eq!((s.delivered, s.lost, s.gaps), (N, 0, 0));
    assert!(ch.driver.settle(wait), "the board goes quiet");
    ch.driver.poll_counters();
    let slot = ch.driver.totals(0).slots[1];
    assert!(packets > N, "some records cross a page");
    assert_eq!(slot.tx_packets(), packets);
    assert_eq!(slot.rx_packets(), packets, "every packet came back");
    assert_eq!(slot.tx_bytes(), slot.rx_bytes());
    let totals = ch.driver.totals(0).clone();
    assert!(
        totals.drops().iter().all(|&(_, n)| n == 0),
        "{:?}",
        totals.drops()
    );
    assert_eq!(totals.global("misses"), 0, "mappings were prefaulted");
    assert_eq!(ch.driver.stats(0).serviced(), 0);

    // An RX miss, serviced over the board's irq.
    ch.driver.evict_all(0, Dir::Rx);
    let msg = pattern(64, 99);
    ch.send(c, 0, &msg).unwrap();
    let (_, d) = ch
        .recv(c, 0, wait)
        .unwrap()
        .expect("message arrives after its miss");
    assert_eq!((d.seq, d.payload), (N + 1, msg));
    let st = ch.driver.stats(0);
    assert_eq!((st.rx_serviced, st.dropped()), (1, 0), "{st:?}");
    assert!(st.interrupts >= 1);
    let b = ch.driver.fabric();
    eprintln!(
        "{} messages in {} core cycles, {:.1} s: {:?}",
        N + 1,
        b.cycle(),
        t.elapsed().as_secs_f64(),
        b.stats()
    );
}
