//! VASSA host driver.
//!
//! - [`fabric`]: card access. The [`Fabric`] trait is a network of cards plus its switch
//!   (split-phase register access, physical memory by copy, irq lines, switch subscriptions,
//!   simulated time, the ledger of packet copies); backends [`RtlFabric`] (Verilated cards) and
//!   [`ModelFabric`] (golden models, timed per link).
//! - [`exec`]: [`World`], the hosts of every node running beside the network in one simulated
//!   time (a deterministic executor of async host software); [`host`]: a node's host as its
//!   software sees it, with the modelled costs of its accesses ([`HostCosts`]).
//! - [`board`]: [`board::BoardFabric`], one card on an FPGA board behind FrontPanel endpoints
//!   (registers over wires and triggers, memory over pipes), over a simulated board or, with
//!   feature `frontpanel`, the real XEM6010.
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
//! - [`bench`]: measurements behind `vassa bench channels` (send cost, end-to-end rates).
//! - [`scenario`]: scenario files for `vassa sim` (format, reading, validation, one-line
//!   errors naming file, line and field).
//! - [`runner`]: runs a scenario on either backend: traffic, faults, reading and checking
//!   every message, the report with its accounting and checks, memory dumps.

pub mod bench;
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
pub mod runner;
pub mod scenario;
pub mod segment;
pub mod view;

pub use driver::{
    Attr, CardInfo, Dir, Driver, DriverConfig, DriverError, Mapping, MissStats, NodeDriver,
    Notification,
};
pub use endpoint::{Channel, Message, Net, Receiver, Sender};
pub use exec::World;
pub use fabric::{Fabric, ModelFabric, RtlFabric, Switch};
pub use host::{Host, HostCosts};
pub use memory::Memory;
pub use view::{SegmentInfo, SegmentView};
