//! Three cards on the golden-model backend: node 0 multicasts to nodes 1 and 2.
//!
//! `cargo run --example channels`. It checks what it prints, so it fails loudly if broken.

use vassa_driver::channel::{ChannelError, ChannelSpec, Kind};
use vassa_driver::{Driver, DriverConfig, Net};
use vassa_harness::ModelFabric;

// `pub`: tests/example_channels.rs runs it too.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Three cards with 1 MiB of memory each, and their driver.
    let fabric = ModelFabric::with_heap(3, 1 << 20);
    let net = Net::new(Driver::new(fabric, DriverConfig::default())?);

    // One writer, two readers; an 8 KiB segment on each node holds the message slots.
    let ch = net.open(ChannelSpec {
        kind: Kind::Multicast,
        writers: vec![0],
        readers: vec![1, 2],
        segment_bytes: 8192,
        max_message: 256,
    })?;
    let tx = ch.sender(0)?;
    let mut readers = [ch.receiver(1)?, ch.receiver(2)?];

    let words = ["hello", "memory", "channels"];
    for w in words {
        // Writes the message into node 0's segment and rings the doorbell; never waits.
        let seq = tx.send(w.as_bytes())?;
        println!("node 0 sent #{seq}: {w}");
    }

    for rx in &mut readers {
        for (i, w) in words.iter().enumerate() {
            // Runs the simulated network until the message has landed (or the timeout).
            let m = rx.recv()?;
            let text = String::from_utf8(m.payload)?;
            println!(
                "node {} got #{} from node {}: {text}",
                rx.node(),
                m.seq,
                m.writer
            );
            assert_eq!(
                (m.writer, m.seq, m.gap, text.as_str()),
                (0, i as u64 + 1, 0, *w)
            );
        }
        assert_eq!(rx.stats().delivered, words.len() as u64);
    }

    // Nothing more for node 1: recv gives up (at once here, since nothing is in flight).
    assert!(matches!(
        readers[0].recv(),
        Err(ChannelError::Timeout { node: 1, .. })
    ));
    // Where node 2's copy lies in its memory: another process maps it with `SegmentView`.
    let seg = ch.segment(2)?;
    println!(
        "node 2 segment: {} bytes at {:#x}, {} slots",
        seg.bytes, seg.offset, seg.layout.slots
    );
    Ok(())
}
