//! Endpoint handles over [`Channels`]: a [`Net`] opens [`Channel`]s, which hand out a
//! [`Sender`] per writer node and a [`Receiver`] per reader node.
//!
//! ```
//! use vassa_driver::{channel::{ChannelSpec, Kind}, endpoint::Net, Driver, Fabric};
//!
//! /// Node 0 says hello to node 1 over any fabric of two cards (a board pair, or a simulated
//! /// network from `vassa-harness`, whose tests run this).
//! fn hello<F: Fabric>(fabric: F) -> Result<(), Box<dyn std::error::Error>> {
//!     let net = Net::new(Driver::new(fabric, Default::default())?);
//!     let ch = net.open(ChannelSpec {
//!         kind: Kind::Unicast,
//!         writers: vec![0],
//!         readers: vec![1],
//!         segment_bytes: 8192,
//!         max_message: 256,
//!     })?;
//!     let (tx, mut rx) = (ch.sender(0)?, ch.receiver(1)?);
//!     tx.send(b"hello")?;
//!     assert_eq!(rx.recv()?.payload, b"hello");
//!     Ok(())
//! }
//! ```
//!
//! Handles share the channels through an `Rc<RefCell<_>>`: the simulation is one thread, and
//! time only moves while a handle calls into it (every node's driver works meanwhile, on its
//! own host). A reader's position lives in the channel, so two `Receiver`s of the same node
//! share one stream of messages. Programs that act side by side in simulated time use the
//! async operations instead ([`crate::channel::ChannelOps`], as the scenario runner does).

use crate::channel::{ChannelError, ChannelId, ChannelSpec, Channels, ReaderStats};
use crate::driver::Driver;
use crate::fabric::Fabric;
use crate::segment::Delivery;
use crate::view::SegmentInfo;
use std::cell::RefCell;
use std::rc::Rc;

/// Cycles [`Receiver::recv`] waits for a message unless told otherwise (10 ms at 100 MHz).
pub const DEFAULT_TIMEOUT: u64 = 1_000_000;
/// Cycles run between two checks for a settled network while waiting.
const WAIT_STEP: u64 = 256;

/// A cheap, cloneable handle to the channels of one fabric.
pub struct Net<F: Fabric> {
    inner: Rc<RefCell<Channels<F>>>,
}

impl<F: Fabric> Clone for Net<F> {
    fn clone(&self) -> Self {
        Net {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<F: Fabric> From<Channels<F>> for Net<F> {
    fn from(channels: Channels<F>) -> Self {
        Net {
            inner: Rc::new(RefCell::new(channels)),
        }
    }
}

impl<F: Fabric> Net<F> {
    pub fn new(driver: Driver<F>) -> Self {
        Channels::new(driver).into()
    }

    /// Opens a channel (see [`Channels::open`]).
    pub fn open(&self, spec: ChannelSpec) -> Result<Channel<F>, ChannelError> {
        let id = self.inner.borrow_mut().open(spec)?;
        Ok(Channel {
            net: self.clone(),
            id,
        })
    }

    /// Runs `f` on the underlying channels (driver, fabric, statistics). Calling a handle of
    /// this net from inside `f` panics: the channels are already borrowed.
    pub fn with<R>(&self, f: impl FnOnce(&mut Channels<F>) -> R) -> R {
        f(&mut self.inner.borrow_mut())
    }
}

/// An open channel of a [`Net`].
pub struct Channel<F: Fabric> {
    net: Net<F>,
    id: ChannelId,
}

impl<F: Fabric> Clone for Channel<F> {
    fn clone(&self) -> Self {
        Channel {
            net: self.net.clone(),
            id: self.id,
        }
    }
}

impl<F: Fabric> Channel<F> {
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// The sending end of writer `node`.
    pub fn sender(&self, node: usize) -> Result<Sender<F>, ChannelError> {
        if !self.net.with(|c| c.spec(self.id).writers.contains(&node)) {
            return Err(ChannelError::NotAWriter { node });
        }
        Ok(Sender {
            channel: self.clone(),
            node,
        })
    }

    /// The receiving end of reader `node`, waiting [`DEFAULT_TIMEOUT`] cycles per message.
    pub fn receiver(&self, node: usize) -> Result<Receiver<F>, ChannelError> {
        if !self.net.with(|c| c.spec(self.id).readers.contains(&node)) {
            return Err(ChannelError::NotAReader { node });
        }
        Ok(Receiver {
            channel: self.clone(),
            node,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Where `node`'s copy of the segment lies, for another process to map
    /// ([`crate::view::SegmentView`]).
    pub fn segment(&self, node: usize) -> Result<SegmentInfo, ChannelError> {
        self.net.with(|c| c.segment(self.id, node))
    }

    /// Largest message in bytes.
    pub fn max_message(&self) -> u32 {
        self.net.with(|c| c.max_message(self.id))
    }

    /// Messages sent by all writers so far.
    pub fn sent(&self) -> u64 {
        self.net.with(|c| c.sent(self.id))
    }
}

/// A message as a [`Receiver`] gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The node that sent it.
    pub writer: usize,
    /// Its sequence number among that writer's messages (1, 2, …).
    pub seq: u64,
    pub payload: Vec<u8>,
    /// Messages of that writer lost just before this one (0 if none).
    pub gap: u64,
}

impl Message {
    fn new((writer, d): (usize, Delivery)) -> Self {
        Message {
            writer,
            seq: d.seq,
            payload: d.payload,
            gap: d.gap,
        }
    }
}

/// The sending end of one writer node of a channel.
pub struct Sender<F: Fabric> {
    channel: Channel<F>,
    node: usize,
}

impl<F: Fabric> Sender<F> {
    /// Writes `payload` into this node's segment and rings the doorbell; never waits for a
    /// reader. Returns the message's sequence number.
    pub fn send(&self, payload: &[u8]) -> Result<u64, ChannelError> {
        let Channel { net, id } = &self.channel;
        net.with(|c| c.send(*id, self.node, payload))
    }

    pub fn node(&self) -> usize {
        self.node
    }

    pub fn channel(&self) -> &Channel<F> {
        &self.channel
    }
}

/// The receiving end of one reader node of a channel.
pub struct Receiver<F: Fabric> {
    channel: Channel<F>,
    node: usize,
    timeout: u64,
}

impl<F: Fabric> Receiver<F> {
    /// The same receiver waiting at most `cycles` per [`Receiver::recv`].
    pub fn with_timeout(mut self, cycles: u64) -> Self {
        self.timeout = cycles;
        self
    }

    pub fn set_timeout(&mut self, cycles: u64) {
        self.timeout = cycles;
    }

    pub fn timeout(&self) -> u64 {
        self.timeout
    }

    pub fn node(&self) -> usize {
        self.node
    }

    pub fn channel(&self) -> &Channel<F> {
        &self.channel
    }

    /// The next message from any writer, without advancing time. When the fabric is settled
    /// (nothing in flight, no interrupt pending) a message that never came is given up and
    /// the next one that did is returned with the gap.
    pub fn try_recv(&mut self) -> Result<Option<Message>, ChannelError> {
        let Channel { net, id } = &self.channel;
        let got = net.with(|c| c.try_recv(*id, self.node))?;
        Ok(got.map(Message::new))
    }

    /// Waits for the next message from any writer, running the network (and servicing its
    /// interrupts) for at most the timeout. Messages of one writer come in its order; a
    /// message lost on the way, or overwritten before this reader got to it, shows as the
    /// next message's gap. Fails with [`ChannelError::Timeout`] when nothing came in time, or
    /// as soon as the fabric is settled with nothing for this reader: in a single-threaded
    /// simulation nothing more can arrive until the caller sends.
    pub fn recv(&mut self) -> Result<Message, ChannelError> {
        let Channel { net, id } = &self.channel;
        let (node, id) = (self.node, *id);
        net.with(|c| {
            let start = c.driver.world().now();
            let end = start.saturating_add(self.timeout);
            loop {
                if let Some(d) = c.try_recv(id, node)? {
                    return Ok(Message::new(d));
                }
                // Signal-on-write notifications only say that something landed; the slots say
                // what. Dropping them keeps the queue from growing.
                c.driver.take_notifications(node);
                let now = c.driver.world().now();
                if c.settled() || now >= end {
                    return Err(ChannelError::Timeout {
                        node,
                        waited: now - start,
                    });
                }
                if let Some(d) = c.recv(id, node, WAIT_STEP.min(end - now))? {
                    return Ok(Message::new(d));
                }
            }
        })
    }

    /// What this reader node has received so far.
    pub fn stats(&self) -> ReaderStats {
        let Channel { net, id } = &self.channel;
        net.with(|c| c.reader_stats(*id, self.node))
            .unwrap_or_default()
    }
}
