//! Shared workload for the driver tests: node 0 sends from source pages, node 1 receives into
//! destination pages, through NVA pages; every source page holds a distinct byte pattern.
#![allow(dead_code)]

use vassa_driver::channel::{ChannelSpec, Kind};
use vassa_driver::{Attr, Driver, DriverConfig, Fabric, HostCosts};
use vassa_harness::{ModelFabric, RtlFabric};
use vassa_spec::params::{PAGE_SHIFT, PAGE_SIZE};

/// Bytes of memory per node (256 pages).
pub const MEM: usize = 1 << 20;
pub const SENDER: usize = 0;
pub const RECEIVER: usize = 1;
/// First source page (physical, node 0), NVA page and destination page (physical, node 1).
pub const SRC_BASE: u32 = 0x10;
pub const NVA_BASE: u32 = 0x400;
pub const DST_BASE: u32 = 0x80;
/// Counter slots the pages are spread over (page i charges slot `1 + i % GROUPS`).
pub const GROUPS: u32 = 4;
/// Simulated cycles a workload may take before a test fails.
pub const LIMIT: u64 = 5_000_000;

pub fn slot_of(i: u32) -> u32 {
    1 + i % GROUPS
}

pub fn attr(i: u32) -> Attr {
    Attr {
        writable: true,
        signal: false,
        counter_slot: slot_of(i),
        epoch: (i * 7 + 1) as u8,
    }
}

pub fn rtl(nodes: usize) -> RtlFabric {
    RtlFabric::with_heap(nodes, MEM)
}

pub fn model(nodes: usize) -> ModelFabric {
    ModelFabric::with_heap(nodes, MEM)
}

/// A driver with the counter poller every `poll_interval` cycles, on hosts with the
/// documented default costs.
pub fn driver<F: Fabric>(fabric: F, poll_interval: u64) -> Driver<F> {
    Driver::new(fabric, DriverConfig::polling_every(poll_interval)).expect("cards answer")
}

/// A driver on hosts that cost nothing but the cards' bus cycles: for tests of the driver's
/// logic at rates a real host could not service.
pub fn fast_driver<F: Fabric>(fabric: F, poll_interval: u64) -> Driver<F> {
    let mut config = DriverConfig::polling_every(poll_interval);
    config.host = HostCosts {
        counter_poll: poll_interval,
        ..HostCosts::zero()
    };
    Driver::new(fabric, config).expect("cards answer")
}

/// A deterministic byte pattern of length `n`.
pub fn pattern(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(131).wrapping_add(seed.wrapping_mul(7919)) ^ (i >> 7)) as u8)
        .collect()
}

/// Fills source pages `0..pages` of the sender with their patterns.
pub fn fill_sources<F: Fabric>(d: &mut Driver<F>, pages: u32) {
    for i in 0..pages {
        let bytes = pattern(PAGE_SIZE as usize, i + 1);
        d.fabric_mut()
            .mem_write(SENDER, (SRC_BASE + i) << PAGE_SHIFT, &bytes);
    }
}

/// Maps source page i → NVA page i on the sender (TX) and NVA page i → destination page i on
/// the receiver (RX), for i in `pages`.
pub fn map_pages<F: Fabric>(d: &mut Driver<F>, pages: impl IntoIterator<Item = u32>) {
    for i in pages {
        d.map_tx(SENDER, SRC_BASE + i, NVA_BASE + i, attr(i))
            .unwrap();
        d.map_rx(RECEIVER, NVA_BASE + i, DST_BASE + i, attr(i))
            .unwrap();
    }
}

/// Sends `len` bytes at `offset` of source page `i`.
pub fn send<F: Fabric>(d: &mut Driver<F>, i: u32, offset: u32, len: u32) {
    let addr = ((SRC_BASE + i) << PAGE_SHIFT) + offset;
    assert!(
        d.send_when_possible(SENDER, addr, len, LIMIT),
        "doorbell FIFO stuck"
    );
}

pub fn settle<F: Fabric>(d: &mut Driver<F>) {
    assert!(d.settle(LIMIT), "fabric did not go quiet");
}

pub fn memory<F: Fabric>(d: &mut Driver<F>, node: usize) -> Vec<u8> {
    let mut buf = vec![0; d.fabric().mem_size(node)];
    d.fabric_mut().mem_read(node, 0, &mut buf);
    buf
}

/// The first differing byte of two memories, for messages.
pub fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Two tests running `$workload` (a function taking a fabric) on two (or `$nodes`) Verilated
/// cards and on as many model cards.
#[macro_export]
macro_rules! on_both_backends {
    ($rtl:ident, $model:ident, $workload:path) => {
        on_both_backends!($rtl, $model, $workload, 2);
    };
    ($rtl:ident, $model:ident, $workload:path, $nodes:expr) => {
        #[test]
        fn $rtl() {
            $workload(rtl($nodes));
        }
        #[test]
        fn $model() {
            $workload(model($nodes));
        }
    };
}

/// `assert!(matches!(value, pattern))`, one line a case when there are many.
#[macro_export]
macro_rules! assert_matches {
    ($value:expr, $pattern:pat) => {
        assert!(
            matches!($value, $pattern),
            "{} does not match {}",
            stringify!($value),
            stringify!($pattern)
        )
    };
}

/// A channel of `kind` with an 8 KiB segment and messages up to 200 bytes.
pub fn channel_spec(kind: Kind, writers: &[usize], readers: &[usize]) -> ChannelSpec {
    ChannelSpec {
        kind,
        writers: writers.to_vec(),
        readers: readers.to_vec(),
        segment_bytes: 8192,
        max_message: 200,
    }
}
