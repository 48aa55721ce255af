// Two VASSA cards, their memories and their crossed links, run entirely in C++: the reference
// the benchmark compares the Rust-driven loop (`vassa_sim::bench::two_cards_rust`) against.
// Every rule here mirrors `Card::step` in src/lib.rs and the stimulus of src/bench.rs: change
// both together (the benchmark checks that both loops send the same link words and write
// the same memory).
#include "shim.h"
#include <deque>
#include <utility>

// One side of the run: its card's memory, its setup register writes and its doorbell
// schedule. Same layout as `bench::LoopSide` in Rust.
struct VassaLoopSide {
    uint8_t* mem;
    uint64_t mem_len;
    const uint32_t* setup;  // (offset, value) pairs
    uint64_t setup_pairs;
    uint32_t db_addr_reg;
    uint32_t db_push_reg;
    uint32_t map_cmd_reg;
    uint32_t db_base;
    uint32_t db_length;
    uint32_t db_stride;
    uint32_t db_span;
    uint64_t db_period;  // 0: no doorbells
};

// What one card did. Same layout as `bench::LoopStats` in Rust.
struct VassaLoopStats {
    uint64_t tx_words;
    uint64_t tx_hash;
    uint64_t write_beats;
    uint64_t memory_faults;
    uint64_t doorbells;
};

namespace {

struct Read {
    uint64_t ready;
    uint32_t addr;
    uint32_t beats;
};

struct Env {
    Card* card;
    const VassaLoopSide* side;
    VassaIn in{};
    VassaOut out{};
    std::deque<std::pair<uint32_t, uint32_t>> bus;
    std::deque<Read> reads;
    VassaLoopStats stats{};
    bool map_busy = false;
    bool map_cmd_last = false;
};

inline uint64_t fnv_step(uint64_t h, uint64_t x) { return (h ^ x) * 0x100000001b3ull; }

// One cycle of one card; `rx` is what arrives on its link RX (taken from the other card's
// previous cycle). Returns nothing: the card's TX is in env.out afterwards.
inline void cycle(Env& e, uint64_t now, uint64_t read_latency, uint32_t rx_valid,
                  uint32_t rx_sop, uint32_t rx_eop, uint32_t rx_data) {
    const VassaLoopSide& s = *e.side;
    if (s.db_period != 0 && now % s.db_period == 0) {
        uint64_t k = e.stats.doorbells++;
        e.bus.emplace_back(s.db_addr_reg,
                           s.db_base + (uint32_t)((k * s.db_stride) % s.db_span));
        e.bus.emplace_back(s.db_push_reg, s.db_length);
    }
    VassaIn& in = e.in;
    in.link_rx_valid = rx_valid;
    in.link_rx_sop = rx_sop;
    in.link_rx_eop = rx_eop;
    in.link_rx_data = rx_data;
    in.bus_write = 0;
    in.bus_read = 0;
    // A MAP_CMD waits while a cache installs (Card::step's rule).
    bool map_wait = !e.bus.empty() && e.bus.front().first == s.map_cmd_reg &&
                    (e.map_busy || e.map_cmd_last);
    e.map_cmd_last = false;
    if (!e.bus.empty() && !map_wait) {
        in.bus_addr = e.bus.front().first;
        in.bus_wdata = e.bus.front().second;
        in.bus_write = 1;
        e.map_cmd_last = in.bus_addr == s.map_cmd_reg;
        e.bus.pop_front();
    }
    in.mem_rd_data_valid = 0;
    if (!e.reads.empty() && e.reads.front().ready <= now) {
        Read& r = e.reads.front();
        uint32_t word = 0;
        if ((uint64_t)r.addr + 4 <= s.mem_len) {
            const uint8_t* b = s.mem + r.addr;
            word = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                   (uint32_t)b[3] << 24;
        } else {
            e.stats.memory_faults++;
        }
        in.mem_rd_data_valid = 1;
        in.mem_rd_data = word;
        r.addr += 4;
        if (--r.beats == 0) e.reads.pop_front();
    }
    vassa_cycle_inline(e.card, &in, &e.out, 2 * now);
    const VassaOut& o = e.out;
    e.map_busy = o.map_busy != 0;
    if (o.mem_rd_req_valid) e.reads.push_back(Read{now + read_latency, o.mem_rd_req_addr, o.mem_rd_req_len});
    if (o.mem_wr_valid) {
        e.stats.write_beats++;
        for (uint32_t i = 0; i < 4; i++) {
            if (o.mem_wr_strb & (1u << i)) {
                uint64_t a = (uint64_t)o.mem_wr_addr + i;
                if (a < s.mem_len) {
                    s.mem[a] = (uint8_t)(o.mem_wr_data >> (8 * i));
                } else {
                    e.stats.memory_faults++;
                }
            }
        }
    }
    if (o.link_tx_valid) {
        e.stats.tx_words++;
        e.stats.tx_hash = fnv_step(e.stats.tx_hash, now << 35 ^ (uint64_t)o.link_tx_sop << 33 ^
                                                        (uint64_t)o.link_tx_eop << 32 ^ o.link_tx_data);
    }
}

}  // namespace

extern "C" void vassa_two_card_loop(void* a, void* b, const VassaLoopSide* sides,
                                    uint64_t cycles, uint64_t read_latency,
                                    VassaLoopStats* stats) {
    Env env[2];
    env[0].card = (Card*)a;
    env[1].card = (Card*)b;
    for (int i = 0; i < 2; i++) {
        env[i].side = &sides[i];
        env[i].in.mem_rd_req_ready = 1;
        env[i].in.mem_wr_ready = 1;
        env[i].stats.tx_hash = 0xcbf29ce484222325ull;
        for (uint64_t k = 0; k < sides[i].setup_pairs; k++)
            env[i].bus.emplace_back(sides[i].setup[2 * k], sides[i].setup[2 * k + 1]);
    }
    // What each card sent in the previous cycle arrives at the other one now.
    VassaOut prev[2]{};
    for (uint64_t now = 0; now < cycles; now++) {
        for (int i = 0; i < 2; i++) {
            const VassaOut& rx = prev[1 - i];
            cycle(env[i], now, read_latency, rx.link_tx_valid, rx.link_tx_sop, rx.link_tx_eop,
                  rx.link_tx_data);
        }
        prev[0] = env[0].out;
        prev[1] = env[1].out;
    }
    stats[0] = env[0].stats;
    stats[1] = env[1].stats;
}
