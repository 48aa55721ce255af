//! A network of cards joined by a switch that forwards packets by NVA page.
//!
//! The switch is store-and-forward: it frames each card's link TX by start/end of packet,
//! looks the destination NVA page (header word 0) up in its subscription table and queues a
//! copy for every subscribed card (one for unicast, several for multicast). A copy enters the
//! destination's link RX `link_latency` cycles after its last word left the source; each
//! destination port sends one word per cycle, packets back to back. A fault hook sees every
//! copy before it is queued and may flip bits, drop it or duplicate it; raw words can be
//! injected into any card's link RX at a chosen cycle. Nothing is lost silently: every packet
//! the switch does not deliver is counted in [`SwitchStats`], and the [`Ledger`] follows every
//! copy to its fate on the receiving card (read from the card's `rx_trace` port).
//!
//! Packets are numbered per source in the order the switch frames them, so a copy has an
//! identity — source, number, destination — that does not depend on timing: the fault hook
//! sees it, and the golden model's network (`vassa_model::network`) numbers packets the same way.

use crate::{Card, LinkWord, ModelError};
use std::collections::VecDeque;
use vassa_model::ledger::Ledger;
use vassa_model::switch::Router;
use vassa_spec::params::CoreParams;

pub use vassa_model::switch::{Fate, FaultHook, InFlight, SwitchStats};

/// A card and the memory it owns: a `Vec<u8>` by default, or anything that is a mutable byte
/// slice (e.g. a memory-mapped file).
pub struct Node<M = Vec<u8>> {
    pub card: Card,
    pub mem: M,
}

/// Cards joined by a switch; `M` is the type of each node's memory.
pub struct Network<M = Vec<u8>> {
    pub nodes: Vec<Node<M>>,
    /// Cycles from a packet's last word leaving its source to its first word at a destination.
    pub link_latency: u64,
    /// Subscriptions, numbering, faults, counts and the ledger.
    pub router: Router,
    /// Per source: words of the packet being framed.
    framing: Vec<Option<Vec<LinkWord>>>,
    /// Per destination: (cycle it may start, ledger index, words), in order.
    egress: Vec<VecDeque<(u64, usize, Vec<LinkWord>)>>,
    /// Per destination: the packet being sent (ledger index, words) and the next word's index.
    sending: Vec<Option<(usize, Vec<LinkWord>, usize)>>,
    pub cycle: u64,
    /// Last cycle in which any link word moved (into or out of a card).
    last_activity: u64,
}

impl Network {
    /// `nodes` cards, each with `mem_bytes` of zeroed memory.
    pub fn new(nodes: usize, mem_bytes: usize, link_latency: u64) -> Self {
        Network::with_memories(vec![vec![0; mem_bytes]; nodes], link_latency)
    }
}

impl<M: AsMut<[u8]>> Network<M> {
    /// One card for each of `mems`, which becomes that card's memory (byte address = index).
    pub fn with_memories(mems: Vec<M>, link_latency: u64) -> Self {
        let nodes = mems
            .into_iter()
            .map(|mem| Node {
                card: Card::new(),
                mem,
            })
            .collect();
        Network::with_nodes(nodes, link_latency)
    }

    /// As [`Network::with_memories`], with cards whose cores have the generator parameters
    /// `params` ([`Card::with_params`]).
    pub fn with_memories_for(
        mems: Vec<M>,
        link_latency: u64,
        params: &CoreParams,
    ) -> Result<Self, ModelError> {
        let nodes = mems
            .into_iter()
            .map(|mem| {
                Ok(Node {
                    card: Card::with_params(params)?,
                    mem,
                })
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(Network::with_nodes(nodes, link_latency))
    }

    /// A network of the given nodes (cards may differ in parameters).
    pub fn with_nodes(nodes: Vec<Node<M>>, link_latency: u64) -> Self {
        let n = nodes.len();
        Network {
            nodes,
            link_latency,
            router: Router::new(n),
            framing: vec![None; n],
            egress: vec![VecDeque::new(); n],
            sending: vec![None; n],
            cycle: 0,
            last_activity: 0,
        }
    }

    /// Packets for `nva_page` go to `node` too.
    pub fn subscribe(&mut self, nva_page: u32, node: usize) {
        self.router.subscribe(nva_page, node);
    }

    pub fn unsubscribe(&mut self, nva_page: u32, node: usize) {
        self.router.unsubscribe(nva_page, node);
    }

    /// Sets the hook that sees (cycle, copy) for every packet copy before it is queued.
    pub fn set_fault_hook(&mut self, hook: impl FnMut(u64, &mut InFlight) -> Fate + 'static) {
        self.router.set_fault_hook(Box::new(hook));
    }

    /// What the switch did.
    pub fn stats(&self) -> SwitchStats {
        self.router.stats
    }

    /// Every copy's fate.
    pub fn ledger(&self) -> &Ledger {
        &self.router.ledger
    }

    /// Queues raw link words for `node`'s link RX, starting no earlier than cycle `at`.
    pub fn inject(&mut self, node: usize, words: Vec<LinkWord>, at: u64) {
        let i = self.router.injected(node, self.cycle);
        self.egress[node].push_back((at, i, words));
    }

    /// One clock cycle of every card and the switch.
    pub fn step(&mut self) {
        let now = self.cycle;
        for i in 0..self.nodes.len() {
            let input = self.next_word(i, now);
            let node = &mut self.nodes[i];
            let out = node.card.step(node.mem.as_mut(), input);
            self.router.ledger.trace(i, node.card.rx_trace(), now);
            if out.valid || input.valid {
                self.last_activity = now;
            }
            if out.valid {
                self.frame(i, out, now);
            }
        }
        self.cycle += 1;
    }

    /// Steps until `done` holds, at most `limit` cycles; returns whether it held.
    pub fn run_until(&mut self, limit: u64, mut done: impl FnMut(&Self) -> bool) -> bool {
        for _ in 0..limit {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    /// Steps until every register bus is idle, the switch holds nothing and no link word has
    /// moved for `quiet` cycles — counted from the later of the last link activity and this
    /// call, so work just queued (a doorbell whose packet has not left yet) is waited for.
    /// At most `limit` cycles. Returns whether it got quiet.
    pub fn run_until_quiet(&mut self, quiet: u64, limit: u64) -> bool {
        let start = self.cycle;
        self.run_until(limit, |n| {
            n.switch_idle()
                && n.nodes.iter().all(|x| x.card.bus_idle())
                && n.cycle >= n.last_activity.max(start) + quiet
        })
    }

    /// The last cycle in which a link word moved into or out of any card (0 before the first).
    pub fn last_activity(&self) -> u64 {
        self.last_activity
    }

    /// Whether the switch is sending nothing on any link (with [`Router::held`] it may still
    /// hold copies).
    pub fn links_idle(&self) -> bool {
        self.framing.iter().all(Option::is_none) && self.sending.iter().all(Option::is_none)
    }

    /// Whether the switch holds no packet (queued, being framed or being sent).
    pub fn switch_idle(&self) -> bool {
        self.framing.iter().all(Option::is_none)
            && self.egress.iter().all(VecDeque::is_empty)
            && self.sending.iter().all(Option::is_none)
    }

    fn next_word(&mut self, dst: usize, now: u64) -> LinkWord {
        if self.sending[dst].is_none() && !self.router.held {
            if let Some((at, _, _)) = self.egress[dst].front() {
                if *at <= now {
                    let (_, copy, words) = self.egress[dst].pop_front().unwrap();
                    self.sending[dst] = Some((copy, words, 0));
                }
            }
        }
        let Some((copy, words, next)) = &mut self.sending[dst] else {
            return LinkWord::default();
        };
        let word = words[*next];
        *next += 1;
        if *next == words.len() {
            // Framed runs (the switch's copies, injections) end here: the card decides.
            self.router.ledger.arrived(*copy, words.len(), now);
            self.sending[dst] = None;
        }
        word
    }

    fn frame(&mut self, src: usize, word: LinkWord, now: u64) {
        if word.sop {
            if self.framing[src].is_some() {
                // A new start inside a packet: the open one is forwarded as it is (truncated);
                // the receiving card counts it as malformed.
                let open = self.framing[src].take().unwrap();
                self.route(src, open, now);
            }
            self.framing[src] = Some(Vec::new());
        }
        match &mut self.framing[src] {
            Some(words) => words.push(word),
            None => {
                self.router.stats.stray_words += 1;
                return;
            }
        }
        if word.eop {
            let words = self.framing[src].take().unwrap();
            self.route(src, words, now);
        }
    }

    fn route(&mut self, src: usize, words: Vec<LinkWord>, now: u64) {
        let at = now + 1 + self.link_latency;
        for (dst, copy, words) in self.router.route(src, words, now) {
            self.egress[dst].push_back((at, copy, words));
        }
    }
}
