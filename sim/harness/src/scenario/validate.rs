//! Checks of a scenario that parsed: ranges, names and the references between sections. The
//! first mistake, in file order of sections, is returned with its field path.

use super::limits::*;
use super::tree::Seg;
use super::units::Bytes;
use super::{ChannelSpec, Kind, LinkFault, Scenario};
use std::collections::BTreeMap;
use vassa_spec::params::{ParamError, PAGE_SIZE};

type Failure = (Vec<Seg>, String);
type Check = Result<(), Failure>;

const PAGE: u64 = PAGE_SIZE as u64;

/// Builds field paths: `at("traffic").i(1).k("writer")`.
#[derive(Clone)]
struct At(Vec<Seg>);

fn at(key: &str) -> At {
    At(vec![Seg::Key(key.into())])
}

impl At {
    fn k(&self, key: &str) -> At {
        let mut p = self.0.clone();
        p.push(Seg::Key(key.into()));
        At(p)
    }
    fn i(&self, index: usize) -> At {
        let mut p = self.0.clone();
        p.push(Seg::Index(index));
        At(p)
    }
    fn fail<T>(&self, message: impl Into<String>) -> Result<T, Failure> {
        Err((self.0.clone(), message.into()))
    }
    /// `value` must lie in `min..=max`.
    fn range(&self, name: &str, value: u64, min: u64, max: u64) -> Check {
        if value < min || value > max {
            return self.fail(format!("{name} = {value} is out of range {min}..={max}"));
        }
        Ok(())
    }
}

fn list(names: &[String]) -> String {
    names.join(", ")
}

pub fn validate(s: &mut Scenario) -> Check {
    sim(s)?;
    let node_names: Vec<String> = s.nodes.iter().map(|n| n.name.clone()).collect();
    names(&at("nodes"), &node_names, MAX_NODES, "node")?;
    let channel_names: Vec<String> = s.channels.iter().map(|c| c.name.clone()).collect();
    names(&at("channels"), &channel_names, MAX_CHANNELS, "channel")?;
    let refs = Refs {
        nodes: &node_names,
        channels: &channel_names,
    };
    for (i, c) in s.channels.iter_mut().enumerate() {
        channel(&at("channels").i(i), c, &refs)?;
    }
    memory(s)?;
    traffic(s, &refs)?;
    faults(s, &refs)
}

fn sim(s: &Scenario) -> Check {
    let p = at("sim");
    p.k("max_cycles").range(
        "max_cycles",
        s.sim.max_cycles,
        MAX_CYCLES_MIN,
        MAX_CYCLES_LIMIT,
    )?;
    p.k("link_latency").range(
        "link_latency",
        s.sim.link_latency,
        LINK_LATENCY_MIN,
        LINK_LATENCY_MAX,
    )?;
    let hp = p.k("host");
    for (name, value, min, max) in host_fields(&s.sim.host) {
        hp.k(name).range(name, value, min, max)?;
    }
    s.sim.core.validate().or_else(|e| {
        let field = match &e {
            ParamError::OutOfRange { name, .. }
            | ParamError::NotPowerOfTwo { name, .. }
            | ParamError::NotDatapathMultiple { name, .. } => name,
            ParamError::ReceiveRamTooLarge { .. } => "max_payload",
            ParamError::Parse(_) => "",
        };
        let path = if field.is_empty() {
            p.k("core")
        } else {
            p.k("core").k(field)
        };
        path.fail(e.to_string())
    })
}

/// A section's names: at least one node, valid spellings, no repeats.
fn names(p: &At, names: &[String], max: usize, what: &str) -> Check {
    if what == "node" && names.is_empty() {
        return p.fail("at least one node is required ([[nodes]] name = \"a\")");
    }
    if names.len() > max {
        return p.i(max).fail(format!("at most {max} {what}s"));
    }
    let mut seen = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        let q = p.i(i).k("name");
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_ok
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || name.chars().count() > NAME_MAX_CHARS
        {
            return q.fail(format!(
                "{what} name \"{name}\" must be a letter then letters, digits, '_' or '-' (at most {NAME_MAX_CHARS})"
            ));
        }
        if let Some(first) = seen.insert(name.as_str(), i) {
            return q.fail(format!(
                "{what} \"{name}\" is already defined ({}[{first}])",
                path_head(p)
            ));
        }
    }
    Ok(())
}

fn path_head(p: &At) -> String {
    super::tree::path_string(&p.0)
}

/// The names references may use.
struct Refs<'a> {
    nodes: &'a [String],
    channels: &'a [String],
}

impl Refs<'_> {
    fn node(&self, p: &At, name: &str) -> Check {
        if self.nodes.iter().any(|n| n == name) {
            return Ok(());
        }
        p.fail(format!(
            "node \"{name}\" is not defined (nodes: {})",
            list(self.nodes)
        ))
    }
    fn channel(&self, p: &At, name: &str) -> Check {
        if self.channels.iter().any(|n| n == name) {
            return Ok(());
        }
        if self.channels.is_empty() {
            return p.fail(format!("channel \"{name}\" is not defined (no channels)"));
        }
        p.fail(format!(
            "channel \"{name}\" is not defined (channels: {})",
            list(self.channels)
        ))
    }
}

/// A byte count: whole pages within `min..=max`.
fn pages(p: &At, name: &str, value: Bytes, min: u64, max: u64) -> Check {
    if value.0 < min || value.0 > max {
        return p.fail(format!(
            "{name} = {value} is out of range {}..={}",
            Bytes(min),
            Bytes(max)
        ));
    }
    if !value.0.is_multiple_of(PAGE) {
        return p.fail(format!(
            "{name} = {} is not a whole number of {PAGE}-byte pages",
            value.0
        ));
    }
    Ok(())
}

fn channel(p: &At, c: &mut ChannelSpec, refs: &Refs) -> Check {
    for (role, members) in [("writers", &c.writers), ("readers", &c.readers)] {
        if members.is_empty() {
            return p
                .k(role)
                .fail(format!("a channel needs at least one of its {role}"));
        }
        for (j, name) in members.iter().enumerate() {
            refs.node(&p.k(role).i(j), name)?;
            if members[..j].contains(name) {
                return p
                    .k(role)
                    .i(j)
                    .fail(format!("node \"{name}\" is listed twice"));
            }
        }
    }
    let kind = match c.kind {
        Kind::Unicast => "unicast",
        Kind::Multicast => "multicast",
        Kind::ManyToMany => "many_to_many",
    };
    if c.kind != Kind::ManyToMany {
        if c.writers.len() != 1 {
            return p.k("writers").fail(format!(
                "a {kind} channel has exactly one writer, not {} ({}); use kind = \"many_to_many\"",
                c.writers.len(),
                list(&c.writers)
            ));
        }
        if c.kind == Kind::Unicast && c.readers.len() != 1 {
            return p.k("readers").fail(format!(
                "a unicast channel has exactly one reader, not {} ({}); use kind = \"multicast\"",
                c.readers.len(),
                list(&c.readers)
            ));
        }
        if let Some(j) = c.readers.iter().position(|r| *r == c.writers[0]) {
            return p.k("readers").i(j).fail(format!(
                "node \"{}\" is the channel's writer; only a many_to_many channel may loop back",
                c.writers[0]
            ));
        }
    } else {
        let mut all: Vec<&String> = c.writers.iter().chain(&c.readers).collect();
        all.sort();
        all.dedup();
        if all.len() < 2 {
            return p
                .k("readers")
                .fail("a many_to_many channel needs at least two nodes");
        }
    }
    pages(
        &p.k("segment"),
        "segment",
        c.segment,
        SEGMENT_MIN,
        SEGMENT_MAX,
    )?;
    let slot = c.slot.unwrap_or(Bytes(c.slot_bytes()));
    let sp = p.k("slot");
    if !slot.0.is_power_of_two() || slot.0 < SLOT_MIN {
        return sp.fail(format!(
            "slot = {} must be a power of two of at least {SLOT_MIN} bytes",
            slot.0
        ));
    }
    if !c.segment.0.is_multiple_of(slot.0) {
        return sp.fail(format!(
            "slot = {slot} does not divide the segment ({})",
            c.segment
        ));
    }
    // A message goes to its card as one doorbell, whose length field bounds its record.
    if slot.0 > SLOT_MAX {
        return sp.fail(format!(
            "slot = {slot} is larger than one doorbell carries ({} bytes of message record): at most {}",
            vassa_driver::driver::MAX_DOORBELL_LENGTH,
            Bytes(SLOT_MAX)
        ));
    }
    c.slot = Some(slot);
    // Each writer's region needs two slots (see `segment::Layout`): the message being written
    // never overwrites the one just sent.
    if c.slots() < 2 * c.writers.len() as u64 {
        return sp.fail(format!(
            "{} slot(s) of {slot} in a {} segment cannot give each of the {} writer(s) two of its own; enlarge segment or shrink slot",
            c.slots(),
            c.segment,
            c.writers.len()
        ));
    }
    Ok(())
}

/// Every node's memory holds the segments of the channels it belongs to.
fn memory(s: &Scenario) -> Check {
    for (i, n) in s.nodes.iter().enumerate() {
        let p = at("nodes").i(i).k("memory");
        pages(&p, "memory", n.memory, NODE_MEMORY_MIN, NODE_MEMORY_MAX)?;
        let member: Vec<&ChannelSpec> = s
            .channels
            .iter()
            .filter(|c| c.has_member(&n.name))
            .collect();
        // A node that writes and reads a channel has a second segment to send from.
        let need: u64 = member
            .iter()
            .map(|c| {
                let both = c.writers.contains(&n.name) && c.readers.contains(&n.name);
                c.segment.0 * (1 + both as u64)
            })
            .sum();
        // Segments are placed from page 1 on: page 0 is never mapped.
        if need + PAGE > n.memory.0 && !member.is_empty() {
            let names: Vec<String> = member.iter().map(|c| c.name.clone()).collect();
            return p.fail(format!(
                "memory = {} cannot hold the segments of its channels ({}: {} in all) after page 0, which is never mapped",
                n.memory,
                list(&names),
                Bytes(need)
            ));
        }
    }
    Ok(())
}

fn traffic(s: &mut Scenario, refs: &Refs) -> Check {
    let max_cycles = s.sim.max_cycles;
    for (i, t) in s.traffic.iter_mut().enumerate() {
        let p = at("traffic").i(i);
        refs.channel(&p.k("channel"), &t.channel)?;
        let Some(c) = s.channels.iter().find(|c| c.name == t.channel) else {
            return p.k("channel").fail("channel not found");
        };
        match &t.writer {
            Some(w) => {
                refs.node(&p.k("writer"), w)?;
                if !c.writers.contains(w) {
                    return p.k("writer").fail(format!(
                        "node \"{w}\" is not a writer of channel \"{}\" (writers: {})",
                        c.name,
                        list(&c.writers)
                    ));
                }
            }
            None if c.writers.len() == 1 => t.writer = Some(c.writers[0].clone()),
            None => {
                return p.fail(format!(
                    "channel \"{}\" has {} writers ({}): name the sender with writer = \"...\"",
                    c.name,
                    c.writers.len(),
                    list(&c.writers)
                ))
            }
        }
        p.k("messages")
            .range("messages", t.messages, MESSAGES_MIN, MAX_MESSAGES)?;
        let size = t.size;
        let slot = c.slot_bytes();
        if size.min < MESSAGE_SIZE_MIN || size.min > size.max {
            return p.k("size").fail(format!(
                "size {} must be at least {} byte, with MIN <= MAX",
                size, MESSAGE_SIZE_MIN
            ));
        }
        // A slot also holds the message's stamps and CRC (`segment::record_bytes`).
        if size.max > slot - SLOT_OVERHEAD {
            return p.k("size").fail(format!(
                "messages of up to {} do not fit the {} slots of channel \"{}\" ({SLOT_OVERHEAD} bytes of each slot go to stamps and CRC)",
                Bytes(size.max),
                Bytes(slot),
                c.name
            ));
        }
        if t.start >= max_cycles {
            return p.k("start").fail(format!(
                "start = {} is not before the end of the run (sim.max_cycles = {max_cycles})",
                t.start
            ));
        }
    }
    Ok(())
}

fn faults(s: &Scenario, refs: &Refs) -> Check {
    let f = &s.faults;
    let groups: [(&str, &Vec<LinkFault>); 3] = [
        ("bit_flip", &f.bit_flip),
        ("drop", &f.drop),
        ("duplicate", &f.duplicate),
    ];
    for (group, list) in groups {
        for (i, fault) in list.iter().enumerate() {
            link_fault(s, refs, &at("faults").k(group).i(i), group, fault)?;
        }
    }
    for (i, inj) in f.inject.iter().enumerate() {
        let p = at("faults").k("inject").i(i);
        refs.node(&p.k("node"), &inj.node)?;
        before_end(s, &p.k("at"), "at", inj.at)?;
        match (&inj.words, inj.kind) {
            (Some(_), Some(_)) => {
                return p.k("kind").fail("give either words or kind, not both");
            }
            (None, None) => {
                return p.fail("give words = [\"0x...\", ...] or kind = \"corrupt\" | \"stale_epoch\" | \"out_of_bounds\" | \"unmapped\" | \"malformed\"");
            }
            (Some(words), None) => {
                if words.is_empty() || words.len() > MAX_INJECT_WORDS {
                    return p.k("words").fail(format!(
                        "{} words: give 1 to {MAX_INJECT_WORDS}",
                        words.len()
                    ));
                }
                if inj.channel.is_some() {
                    return p
                        .k("channel")
                        .fail("channel goes with a named kind, not with raw words");
                }
            }
            (None, Some(kind)) => match (&inj.channel, kind.needs_channel()) {
                (Some(name), true) => {
                    joined(s, refs, &p.k("channel"), (name, &inj.node), true)?;
                }
                (None, true) => {
                    return p.k("kind").fail(format!(
                        "kind {} needs channel = \"...\" (the channel whose packet it imitates)",
                        toml_name(&kind)
                    ));
                }
                (Some(_), false) => {
                    return p.k("channel").fail(format!(
                        "kind {} is built without a channel",
                        toml_name(&kind)
                    ));
                }
                (None, false) => {}
            },
        }
    }
    for (i, e) in f.evict.iter().enumerate() {
        let p = at("faults").k("evict").i(i);
        refs.node(&p.k("node"), &e.node)?;
        if let Some(name) = &e.channel {
            let c = joined(s, refs, &p.k("channel"), (name, &e.node), false)?;
            if let Some(page) = e.page {
                if page >= c.pages() {
                    return p.k("page").fail(format!(
                        "page {page} is past the end of channel \"{}\" ({} page(s): 0..={})",
                        c.name,
                        c.pages(),
                        c.pages() - 1
                    ));
                }
            }
        } else if e.page.is_some() {
            return p
                .k("page")
                .fail("page counts within a channel's segment: give channel too");
        }
        match (e.at, e.every) {
            (Some(_), Some(_)) => return p.k("every").fail("give either at or every, not both"),
            (None, None) => return p.fail("give at = CYCLE or every = CYCLES"),
            (Some(cycle), None) => before_end(s, &p.k("at"), "at", cycle)?,
            (None, Some(every)) => {
                p.k("every")
                    .range("every", every, EVERY_MIN, s.sim.max_cycles)?;
                before_end(s, &p.k("start"), "start", e.start)?;
            }
        }
    }
    Ok(())
}

pub(super) fn toml_name<T: serde::Serialize>(value: &T) -> String {
    toml::Value::try_from(value)
        .ok()
        .and_then(|v| v.as_str().map(|s| format!("\"{s}\"")))
        .unwrap_or_default()
}

fn before_end(s: &Scenario, p: &At, name: &str, cycle: u64) -> Check {
    if cycle >= s.sim.max_cycles {
        return p.fail(format!(
            "{name} = {cycle} is not before the end of the run (sim.max_cycles = {})",
            s.sim.max_cycles
        ));
    }
    Ok(())
}

fn link_fault(s: &Scenario, refs: &Refs, p: &At, group: &str, f: &LinkFault) -> Check {
    if !(PROBABILITY_MIN..=PROBABILITY_MAX).contains(&f.probability) {
        return p.k("probability").fail(format!(
            "probability = {} is outside {PROBABILITY_MIN}..={PROBABILITY_MAX}",
            f.probability
        ));
    }
    if let Some(node) = &f.node {
        refs.node(&p.k("node"), node)?;
    }
    if let Some(channel) = &f.channel {
        match &f.node {
            Some(node) => {
                joined(s, refs, &p.k("channel"), (channel, node), true)?;
            }
            None => refs.channel(&p.k("channel"), channel)?,
        }
    }
    before_end(s, &p.k("start"), "start", f.start)?;
    if let Some(stop) = f.stop {
        if stop <= f.start {
            return p
                .k("stop")
                .fail(format!("stop = {stop} must be after start = {}", f.start));
        }
    }
    match (group, f.bits) {
        ("bit_flip", Some(bits)) => p.k("bits").range(
            "bits",
            u64::from(bits),
            FLIP_BITS_MIN.into(),
            MAX_FLIP_BITS.into(),
        ),
        (_, Some(_)) => p
            .k("bits")
            .fail(format!("bits applies to bit_flip, not {group}")),
        _ => Ok(()),
    }
}

/// The channel `name`, which `node` must read (`readers_only`: packets of it reach the node)
/// or belong to (it has mappings of it).
fn joined<'a>(
    s: &'a Scenario,
    refs: &Refs,
    p: &At,
    (name, node): (&str, &str),
    readers_only: bool,
) -> Result<&'a ChannelSpec, Failure> {
    refs.channel(p, name)?;
    let Some(c) = s.channel(name) else {
        return p.fail("channel not found");
    };
    if readers_only && !c.readers.iter().any(|r| r == node) {
        return p.fail(format!(
            "node \"{node}\" does not read channel \"{name}\" (readers: {})",
            list(&c.readers)
        ));
    }
    if !c.has_member(node) {
        return p.fail(format!(
            "node \"{node}\" neither writes nor reads channel \"{name}\""
        ));
    }
    Ok(c)
}
