//! VASSA host driver.
//!
//! It depends on the spec (`vassa-spec`) alone: no rust-hdl, no simulator. The simulated
//! networks it runs on in tests and in `vassa sim`, the scenario runner and the benchmarks live
//! in `vassa-harness`.
//!
//! - [`fabric`]: card access. The [`Fabric`] trait is a network of cards plus its switch
//!   (split-phase register access, physical memory by copy, irq lines, switch subscriptions,
//!   time).
//! - [`exec`]: [`World`], the hosts of every node running beside the network in one simulated
//!   time (a deterministic executor of async host software); [`host`]: a node's host as its
//!   software sees it, with the modelled costs of its accesses ([`HostCosts`]).
//! - [`board`]: [`board::BoardFabric`], one card on an FPGA board behind FrontPanel endpoints
//!   (registers over wires and triggers, memory over pipes), over any [`board::Endpoints`]:
//!   with feature `frontpanel`, the real XEM6010; in `vassa-harness`, a simulated board.
//! - [`memory`]: a node's memory, on the heap or a file mapped with `memmap2`.
//! - [`driver`]: [`Driver`], the driver core: host mapping tables, the card caches as managed
//!   subsets ([`cache`]: the replacement policy), the miss service routine, the counter poller
//!   ([`counters`]) and the notification queues.
//! - [`channel`]: memory-based messaging channels (unicast, multicast, many-to-many) over a
//!   driver: segment and NVA allocation, mappings, `send`, `recv`/`try_recv` with gaps.
//! - [`endpoint`]: the channel API for programs: [`Net`] (shared handle to the channels),
//!   [`Channel`], [`Sender::send`], [`Receiver::recv`] with a timeout in simulated time.
//! - [`view`]: a channel segment mapped read-only from a node's memory file, as another
//!   process reads it ([`SegmentView`], located by a [`SegmentInfo`]).
//! - [`segment`]: how a channel's messages lie in its memory segment (slots with begin/end
//!   stamps and a CRC) and how a reader finds the next complete message or a gap, lock-free.

pub mod board;
pub mod cache;
pub mod channel;
pub mod counters;
pub mod driver;
pub mod endpoint;
pub mod exec;
pub mod fabric;
pub mod host;
pub mod memory;
pub mod segment;
pub mod view;

pub use driver::{
    Attr, CardInfo, Dir, Driver, DriverConfig, DriverError, Mapping, MissStats, NodeDriver,
    Notification,
};
pub use endpoint::{Channel, Message, Net, Receiver, Sender};
pub use exec::World;
pub use fabric::Fabric;
pub use host::{Host, HostCosts};
pub use memory::Memory;
pub use view::{SegmentInfo, SegmentView};
