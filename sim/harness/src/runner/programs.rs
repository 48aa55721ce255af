//! The programs of a scenario's hosts, each a task of the world: a writer per `[[traffic]]`
//! entry, a reader per channel reader, the forced evictions; and what they did ([`Play`]).

use super::accounting::Asked;
use super::faults::EvictPlan;
use super::traffic::{payload, Stream};
use super::RunError;
use crate::fabric::Fabric;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use vassa_driver::channel::{ChannelId, ChannelOps};
use vassa_driver::segment::Delivery;
use vassa_sim::network::InFlight;
use vassa_spec::packet::split_message;

/// Cycles a writer waiting for its card pauses between two looks.
const WRITER_PAUSE: u64 = 64;

/// One reader's tally, as its program kept it.
#[derive(Debug, Clone, Default)]
pub(super) struct ReaderTally {
    pub(super) delivered: u64,
    pub(super) verified: u64,
    pub(super) corrupt: u64,
    pub(super) gaps: u64,
    pub(super) lost: u64,
    /// Per writer node: what the reader gave up, why, and when.
    pub(super) skipped: HashMap<usize, HashMap<u64, (vassa_driver::segment::Skip, u64)>>,
}

/// What the hosts' programs did, shared by their tasks.
#[derive(Default)]
pub(super) struct Play {
    pub(super) seed: u64,
    /// Payload length of every message sent, by (channel, writer node), index seq − 1.
    pub(super) lengths: HashMap<(usize, usize), Vec<u32>>,
    /// Per node: the packets its card was asked to send, in doorbell order (index = the
    /// packet's number on that node).
    pub(super) asked: Vec<Vec<Asked>>,
    /// Per node: doorbells entered in `asked`, and those rung but not yet entered (one rung
    /// before them is missing), by doorbell index.
    pub(super) entered: Vec<u64>,
    pub(super) early: Vec<BTreeMap<u64, Vec<Asked>>>,
    pub(super) packets: Vec<u64>,
    pub(super) payload_bytes: Vec<u64>,
    /// By channel, by position in its reader list.
    pub(super) readers: Vec<Vec<ReaderTally>>,
    pub(super) notifications: Vec<u64>,
    pub(super) forced: Vec<u64>,
    pub(super) messages_sent: u64,
    pub(super) streams_left: usize,
    pub(super) injections_left: usize,
    /// The run was cut short: programs stop at their next step.
    pub(super) stopped: bool,
    /// Copies whose header was not the packet their number names.
    pub(super) identity_mismatches: u64,
    pub(super) error: Option<RunError>,
}

impl Play {
    /// Enters doorbell `index` of `node` (its packets) in order.
    pub(super) fn rung(&mut self, node: usize, index: u64, packets: Vec<Asked>) {
        self.early[node].insert(index, packets);
        while let Some(p) = self.early[node].remove(&self.entered[node]) {
            self.asked[node].extend(p);
            self.entered[node] += 1;
        }
    }

    /// Reader `r` of channel `c` got `d` from `writer` at cycle `now`.
    pub(super) fn tally(&mut self, c: usize, r: usize, writer: usize, d: Delivery, now: u64) {
        let len = self
            .lengths
            .get(&(c, writer))
            .and_then(|v| v.get(d.seq as usize - 1).copied());
        let ok = len.is_some_and(|len| d.payload == payload(self.seed, c, writer, d.seq, len));
        let rr = &mut self.readers[c][r];
        rr.delivered += 1;
        rr.verified += ok as u64;
        rr.corrupt += !ok as u64;
        rr.lost += d.gap;
        rr.gaps += (d.gap > 0) as u64;
        let skipped = d.skipped.into_iter().map(|(seq, why)| (seq, (why, now)));
        rr.skipped.entry(writer).or_default().extend(skipped);
    }

    pub(super) fn traffic_done(&self) -> bool {
        self.streams_left == 0 && self.injections_left == 0
    }
}

/// Checks that a copy's header is the packet its number names; returns the cycle its message
/// was handed to the card (for the fault rules' windows).
pub(super) fn identify(play: &mut Play, copy: &InFlight) -> Option<u64> {
    let a = *play.asked.get(copy.src?)?.get(copy.number as usize)?;
    let word = |i: usize| copy.words.get(i).map_or(0, |w| w.data);
    let length = vassa_spec::packet::H1_LENGTH.get(word(1));
    if word(0) != a.nva || length != a.length {
        play.identity_mismatches += 1;
    }
    Some(a.cycle)
}

/// A `[[traffic]]` entry's program on its writer's host; `epoch` is the scenario's cycle 0.
pub(super) async fn writer<F: Fabric>(
    ops: ChannelOps<F>,
    play: Rc<RefCell<Play>>,
    mut stream: Stream,
    (epoch, id): (u64, ChannelId),
    channel: String,
) {
    let (c, w) = (stream.channel, stream.writer);
    let d = Rc::clone(ops.node(w));
    let host = d.host().clone();
    let fail = |play: &Rc<RefCell<Play>>, source| {
        play.borrow_mut().error.get_or_insert(RunError::Channel {
            channel: channel.clone(),
            source,
        });
    };
    while stream.left > 0 {
        host.sleep_until(epoch + stream.next_at).await;
        if play.borrow().stopped {
            return;
        }
        // The writer never waits for a reader, only for its own card.
        loop {
            match ops.slot_free(id, w).await {
                Ok(true) if ops.doorbell_room(w).await > 0 => break,
                Ok(_) => host.sleep(WRITER_PAUSE).await,
                Err(e) => return fail(&play, e),
            }
        }
        let len = stream.take(host.now() - epoch);
        let seed = play.borrow().seed;
        // Several streams may write one channel region: the payload is made for the sequence
        // number the message gets, and its length entered under it.
        let made = ops.send_made(id, w, |seq| {
            play.borrow_mut()
                .lengths
                .entry((c, w))
                .or_default()
                .push(len);
            payload(seed, c, w, seq, len)
        });
        let sent = match made.await {
            Ok(sent) => sent,
            Err(e) => return fail(&play, e),
        };
        let seq = sent.seq;
        let max_payload = d.info().max_payload;
        let chunks = split_message(sent.addr, sent.length, max_payload);
        let asked = chunks
            .iter()
            .map(|k| Asked {
                channel: c,
                seq,
                nva: sent.nva + (k.addr - sent.addr),
                length: k.length,
                cycle: host.now() - epoch,
            })
            .collect();
        let mut p = play.borrow_mut();
        p.packets[c] += chunks.len() as u64;
        p.payload_bytes[c] += len as u64;
        p.messages_sent += 1;
        p.rung(w, sent.doorbell, asked);
    }
    play.borrow_mut().streams_left -= 1;
}

/// A channel reader's program on its host: every reader poll interval, takes what arrived.
pub(super) async fn reader<F: Fabric>(
    ops: ChannelOps<F>,
    play: Rc<RefCell<Play>>,
    id: ChannelId,
    (c, r, node): (usize, usize, usize),
    channel: String,
) {
    let d = Rc::clone(ops.node(node));
    let host = d.host().clone();
    loop {
        host.sleep(host.costs().reader_poll.max(1)).await;
        loop {
            match ops.next(id, node).await {
                Ok(Some((writer, delivery))) => {
                    play.borrow_mut().tally(c, r, writer, delivery, host.now())
                }
                Ok(None) => break,
                Err(source) => {
                    play.borrow_mut().error.get_or_insert(RunError::Channel {
                        channel: channel.clone(),
                        source,
                    });
                    return;
                }
            }
        }
        // Signal-on-write notifications only say something landed; the slots say what.
        let notes = d.take_notifications().len() as u64;
        play.borrow_mut().notifications[node] += notes;
    }
}

/// A `[[faults.evict]]` entry, as writes of the evicting node's host, while traffic lasts.
pub(super) async fn evictions<F: Fabric>(
    ops: ChannelOps<F>,
    play: Rc<RefCell<Play>>,
    mut plan: EvictPlan,
    epoch: u64,
) {
    let d = Rc::clone(ops.node(plan.node));
    loop {
        d.host().sleep_until(epoch + plan.next_at).await;
        if play.borrow().traffic_done() || play.borrow().stopped {
            return;
        }
        let n = match &plan.keys {
            Some(keys) => {
                let mut n = 0;
                for &(dir, key) in keys {
                    n += d.evict(dir, key).await as u64;
                }
                n
            }
            None => {
                let mut n = 0;
                for &dir in &plan.sides {
                    n += d.evict_all(dir).await as u64;
                }
                n
            }
        };
        play.borrow_mut().forced[plan.node] += n;
        if !plan.fired(d.host().now() - epoch) {
            return;
        }
    }
}
