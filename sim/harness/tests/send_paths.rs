//! `Channels::send` encodes a record in place when the fabric exposes its memory
//! (`Fabric::mem_slice`) and by copy otherwise (a board backend): both leave the same bytes in
//! both nodes' memories.

mod common;

use common::{channel_spec, driver, memory, model, pattern};
use vassa_driver::channel::{ChannelSpec, Channels, Kind};
use vassa_driver::fabric::Ticket;
use vassa_driver::Fabric;
use vassa_harness::ModelFabric;

/// A model fabric that hides its memory slice, as a backend reached over a bus would.
struct CopyOnly(ModelFabric);

impl Fabric for CopyOnly {
    fn nodes(&self) -> usize {
        self.0.nodes()
    }
    fn cycle(&self) -> u64 {
        self.0.cycle()
    }
    fn bus_write(&mut self, node: usize, at: u64, addr: u32, value: u32) {
        self.0.bus_write(node, at, addr, value)
    }
    fn bus_read(&mut self, node: usize, at: u64, addr: u32) -> Ticket {
        self.0.bus_read(node, at, addr)
    }
    fn take_answers(&mut self, out: &mut Vec<(Ticket, u64, u32)>) {
        self.0.take_answers(out)
    }
    fn advance(&mut self, until: u64) {
        self.0.advance(until)
    }
    fn mem_size(&self, node: usize) -> usize {
        self.0.mem_size(node)
    }
    fn mem_read(&mut self, node: usize, addr: u32, buf: &mut [u8]) {
        self.0.mem_read(node, addr, buf)
    }
    fn mem_write(&mut self, node: usize, addr: u32, bytes: &[u8]) {
        self.0.mem_write(node, addr, bytes)
    }
    fn irq(&self, node: usize) -> bool {
        self.0.irq(node)
    }
    fn subscribe(&mut self, nva_page: u32, node: usize) {
        self.0.subscribe(nva_page, node)
    }
    fn unsubscribe(&mut self, nva_page: u32, node: usize) {
        self.0.unsubscribe(nva_page, node)
    }
    fn quiet(&self) -> bool {
        self.0.quiet()
    }
}

/// Sends messages of every length up to the slot's, twice round the slots (so records
/// overwrite longer ones), receiving each; returns both memories.
fn run<F: Fabric>(fabric: F) -> (Vec<u8>, Vec<u8>) {
    let mut ch = Channels::new(driver(fabric, 10_000));
    let c = ch
        .open(ChannelSpec {
            segment_bytes: 4096,
            max_message: 100,
            ..channel_spec(Kind::Unicast, &[0], &[1])
        })
        .unwrap();
    for i in 0..80u32 {
        let len = 1 + (i * 53 % 100) as usize;
        ch.send(c, 0, &pattern(len, i)).unwrap();
        let (_, d) = ch.recv(c, 1, 100_000).unwrap().expect("message arrives");
        assert_eq!((d.seq, d.payload), (i as u64 + 1, pattern(len, i)));
    }
    let d = &mut ch.driver;
    (memory(d, 0), memory(d, 1))
}

#[test]
fn in_place_and_copied_records_are_the_same_bytes() {
    let in_place = run(model(2));
    let copied = run(CopyOnly(model(2)));
    assert!(in_place == copied, "memories differ");
}
