//! The simulators agree: the mapping cache and the packetizer run on a seeded random but
//! meaningful stimulus in the `Bench` stepper (which records every cycle's ports); the recorded
//! inputs are then re-applied in rust-hdl's threaded `Simulation` and replayed on the generated
//! Verilog in Icarus Verilog and in Verilator. Every output port must have the same value in
//! all four in every cycle (rules in `Vectors::check_agreement`).

use std::collections::VecDeque;
use std::time::Instant;
use vassa_hdl_tools::testbench::{Bench, XorShift};
use vassa_hdl_tools::vectors::{simulation_vectors, Vectors};
use vassa_rtl::mapping_cache::{
    MappingCache, COUNTER_SLOT_BITS, EPOCH_BITS, OP_BITS, PAGE_BITS, SLOT_BITS, TAG_BITS,
};
use vassa_rtl::packetizer::Packetizer;
use vassa_spec::params::{CoreParams, PAGE_SIZE};
use vassa_spec::regmap::{MAP_OP_FLUSH, MAP_OP_INSTALL, MAP_OP_INVALIDATE};

/// `bits` random bits.
fn bits(rng: &mut XorShift, bits: usize) -> u64 {
    rng.next_u64() & ((1u64 << bits) - 1)
}

// ---- Mapping cache ----------------------------------------------------------------------------

const CACHE_ENTRIES: usize = 8;
const CACHE_CYCLES: usize = 8000;

/// One cycle's inputs of the mapping cache. Fields beside a low valid are random too: the
/// simulators must agree that they do not matter.
#[derive(Debug, Clone, Copy)]
struct CacheIn {
    op_valid: bool,
    op_code: u64,
    op_slot: u64,
    op_key: u64,
    op_page: u64,
    op_writable: bool,
    op_signal: bool,
    op_counter_slot: u64,
    op_epoch: u64,
    lookup_valid: bool,
    lookup_key: u64,
    lookup_tag: u64,
}

/// Mostly a few keys, so installs collide and lookups hit; sometimes any key (a miss).
fn cache_key(rng: &mut XorShift) -> u64 {
    if rng.chance(90) {
        rng.next_u64() % 10
    } else {
        bits(rng, PAGE_BITS)
    }
}

fn cache_stimulus(seed: u64) -> Vec<CacheIn> {
    let mut rng = XorShift(seed);
    (0..CACHE_CYCLES)
        .map(|_| {
            // Mostly installs, so keys move between entries; rare flushes; code 0 does nothing.
            let op_code = match rng.next_u64() % 40 {
                0..=29 => MAP_OP_INSTALL,
                30..=36 => MAP_OP_INVALIDATE,
                37 => MAP_OP_FLUSH,
                _ => 0,
            } as u64;
            CacheIn {
                // An install keeps the cache busy for a few cycles; ops meanwhile are refused.
                op_valid: rng.chance(15),
                op_code,
                // Slots up to entries + 1: installs beyond the last entry are ignored.
                op_slot: rng.next_u64() % (CACHE_ENTRIES as u64 + 2),
                op_key: cache_key(&mut rng),
                op_page: bits(&mut rng, PAGE_BITS),
                op_writable: rng.chance(50),
                op_signal: rng.chance(50),
                op_counter_slot: bits(&mut rng, COUNTER_SLOT_BITS),
                op_epoch: bits(&mut rng, EPOCH_BITS),
                // Fewer lookups than cycles: one in the next cycle preempts the previous one.
                lookup_valid: rng.chance(45),
                lookup_key: cache_key(&mut rng),
                lookup_tag: bits(&mut rng, TAG_BITS),
            }
        })
        .collect()
}

fn drive_cache(u: &mut MappingCache, c: &CacheIn) {
    u.op.valid.next = c.op_valid;
    u.op.code.next = (c.op_code & ((1 << OP_BITS) - 1)).into();
    u.op.slot.next = (c.op_slot & ((1 << SLOT_BITS) - 1)).into();
    u.op.key.next = c.op_key.into();
    u.op.page.next = c.op_page.into();
    u.op.writable.next = c.op_writable;
    u.op.signal.next = c.op_signal;
    u.op.counter_slot.next = c.op_counter_slot.into();
    u.op.epoch.next = c.op_epoch.into();
    u.lookup.valid.next = c.lookup_valid;
    u.lookup.key.next = c.lookup_key.into();
    u.lookup.tag.next = c.lookup_tag.into();
}

#[test]
fn mapping_cache() {
    let stimulus = cache_stimulus(0x5EED_CAC4E);
    let mut b = Bench::new(MappingCache::new(CACHE_ENTRIES), |c| &mut c.clock);
    b.record();
    let (mut hits, mut misses) = (0, 0);
    for c in &stimulus {
        drive_cache(&mut b.uut, c);
        b.step();
        if b.uut.lookup.result_valid.val() {
            if b.uut.lookup.result_hit.val() {
                hits += 1;
            } else {
                misses += 1;
            }
        }
    }
    assert!(
        hits > 500 && misses > 500,
        "stimulus too weak: {hits} hits, {misses} misses"
    );
    println!("mapping cache: {hits} hits, {misses} misses");
    let simulate = || {
        let uut = MappingCache::new(CACHE_ENTRIES);
        simulation_vectors(uut, |c| &mut c.clock, stimulus, drive_cache)
    };
    agree_with_simulation(
        "mapping cache",
        "agree_mapping_cache",
        b.vectors(),
        simulate,
    );
}

/// Checks the Verilated bench's `recorded` vectors against rust-hdl's Simulation of the same
/// stimulus (`simulate`), which is timed.
fn agree_with_simulation(
    label: &str,
    name: &str,
    recorded: &Vectors,
    simulate: impl FnOnce() -> Vectors,
) {
    let start = Instant::now();
    let native = simulate();
    let seconds = start.elapsed().as_secs_f64();
    println!("{label}: rust-hdl Simulation {seconds:.1} s");
    recorded.check_simulators(name, &native);
}

// ---- Packetizer -------------------------------------------------------------------------------

const PACKETIZER_CYCLES: u64 = 3000;

/// One cycle's inputs of the packetizer.
#[derive(Debug, Clone, Copy)]
struct PacketizerIn {
    cmd_valid: bool,
    cmd_addr: u64,
    cmd_length: u64,
    cmd_nva: u64,
    cmd_epoch: u64,
    cmd_counter_slot: u64,
    cmd_first: bool,
    cmd_last: bool,
    cmd_user: bool,
    node_id: u64,
    rd_req_ready: bool,
    rd_data_valid: bool,
    rd_data: u64,
}

fn drive_packetizer(u: &mut Packetizer, i: &PacketizerIn) {
    u.cmd.valid.next = i.cmd_valid;
    u.cmd.addr.next = i.cmd_addr.into();
    u.cmd.length.next = i.cmd_length.into();
    u.cmd.nva.next = i.cmd_nva.into();
    u.cmd.epoch.next = i.cmd_epoch.into();
    u.cmd.counter_slot.next = i.cmd_counter_slot.into();
    u.cmd.first.next = i.cmd_first;
    u.cmd.last.next = i.cmd_last;
    u.cmd.user.next = i.cmd_user;
    u.node_id.next = i.node_id.into();
    u.mem_rd.req_ready.next = i.rd_req_ready;
    u.mem_rd.data_valid.next = i.rd_data_valid;
    u.mem_rd.data.next = i.rd_data.into();
}

/// Memory contents: a hash of the word address.
fn memory_word(addr: u64) -> u64 {
    (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) & 0xFFFF_FFFF
}

/// Runs the packetizer in the `Bench` against a memory that answers read bursts in order after
/// a random latency, with random gaps between beats and random `rd_req_ready` stalls (the link
/// side has no backpressure port). Commands have random lengths, alignments and gaps, and
/// stay inside one page as the TX MMU guarantees. Returns the inputs it applied and the number
/// of packets sent.
fn run_packetizer(b: &mut Bench<Packetizer>, seed: u64) -> (Vec<PacketizerIn>, usize) {
    let mut rng = XorShift(seed);
    let base = 0x3000_0000u64;
    // Commands waiting to be presented, each with the first cycle it may be.
    let mut commands = VecDeque::new();
    let mut at = 0;
    for _ in 0..200 {
        let addr = base + rng.next_u64() % (4 * PAGE_SIZE as u64);
        let room = PAGE_SIZE as u64 - addr % PAGE_SIZE as u64;
        let max = if rng.chance(50) { 8 } else { 256 };
        let length = (1 + rng.next_u64() % max).min(room);
        if rng.chance(20) {
            at += rng.next_u64() % 40;
        }
        commands.push_back((addr, length, at));
    }
    // Bursts requested: (next word address, beats left, first cycle a beat may come).
    let mut bursts: VecDeque<(u64, u64, u64)> = VecDeque::new();
    let mut inputs = Vec::new();
    let mut packets = 0;
    for now in 0..PACKETIZER_CYCLES {
        let offer = commands.front().filter(|c| c.2 <= now).copied();
        let (addr, length, _) = offer.unwrap_or((bits(&mut rng, 32), bits(&mut rng, 13), 0));
        let beat = bursts
            .front()
            .filter(|burst| burst.2 <= now && !rng.chance(20))
            .map(|burst| burst.0);
        let i = PacketizerIn {
            cmd_valid: offer.is_some(),
            cmd_addr: addr,
            cmd_length: length,
            cmd_nva: bits(&mut rng, 32),
            cmd_epoch: bits(&mut rng, 8),
            cmd_counter_slot: bits(&mut rng, 6),
            cmd_first: rng.chance(50),
            cmd_last: rng.chance(50),
            cmd_user: rng.chance(50),
            node_id: 0x5A,
            rd_req_ready: rng.chance(75),
            rd_data_valid: beat.is_some(),
            rd_data: beat.map_or(bits(&mut rng, 32), memory_word),
        };
        drive_packetizer(&mut b.uut, &i);
        inputs.push(i);
        b.settle();
        let u = &b.uut;
        if u.cmd.valid.val() && u.cmd.ready.val() {
            commands.pop_front();
        }
        if beat.is_some() {
            let burst = &mut bursts[0];
            burst.0 += 4;
            burst.1 -= 1;
            if burst.1 == 0 {
                bursts.pop_front();
            }
        }
        if u.mem_rd.req_valid.val() && i.rd_req_ready {
            let ready = now + 1 + rng.next_u64() % 8;
            let len = u.mem_rd.req_len.val().to_u64();
            bursts.push_back((u.mem_rd.req_addr.val().to_u64(), len, ready));
        }
        packets += u.link.eop.val() as usize;
        b.step();
    }
    (inputs, packets)
}

#[test]
fn packetizer() {
    let params = CoreParams {
        line_bytes: 16,
        ..Default::default()
    };
    let mut b = Bench::new(Packetizer::new(&params), |p| &mut p.clock);
    b.record();
    let (inputs, packets) = run_packetizer(&mut b, 0xFACE_0FF5);
    assert!(packets > 40, "stimulus too weak: {packets} packets sent");
    println!("packetizer: {packets} packets sent");
    let simulate = || {
        let uut = Packetizer::new(&params);
        simulation_vectors(uut, |p| &mut p.clock, inputs, drive_packetizer)
    };
    agree_with_simulation("packetizer", "agree_packetizer", b.vectors(), simulate);
}
