//! Verilated cores at non-default generator parameters: built at run time into a cached shared
//! library (feature `build-models`), or a clear error without the feature.
//!
//! Every test uses the one parameter set [`params`], so a fresh machine builds one library; the
//! cache lives in the cargo target directory.

use vassa_sim::{Card, ModelError, VerilatedCore};
use vassa_spec::params::CoreParams;

/// The parameter set of every test here.
fn params() -> CoreParams {
    CoreParams {
        tx_cache_entries: 8,
        rx_cache_entries: 8,
        miss_buffer_packets: 3,
        max_payload: 128,
        ..CoreParams::default()
    }
}

#[test]
fn invalid_parameters_are_a_one_line_error() {
    let bad = CoreParams {
        rx_cache_entries: 12,
        ..CoreParams::default()
    };
    let err = VerilatedCore::for_params(&bad).err().expect("rejected");
    assert!(matches!(err, ModelError::InvalidParams(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("rx_cache_entries = 12 must be a power of two"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    assert!(Card::with_params(&bad).is_err());
}

#[test]
fn default_parameters_give_the_static_model() {
    let m = VerilatedCore::for_params(&CoreParams::default()).unwrap();
    assert_eq!(m.library_path(), None);
    assert_eq!(m.params(), CoreParams::default());
}

#[cfg(not(feature = "build-models"))]
#[test]
fn other_parameters_need_the_build_models_feature() {
    let err = VerilatedCore::for_params(&params())
        .err()
        .expect("no builder");
    assert!(matches!(err, ModelError::FeatureNeeded), "{err:?}");
    assert!(err.to_string().contains("`build-models`"), "{err}");
}

#[cfg(feature = "build-models")]
mod built {
    use super::*;
    use vassa_sim::network::{Network, Node};
    use vassa_sim::{dynamic, LinkWord};
    use vassa_spec::regmap as rm;

    /// The model cache of these tests.
    const CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/vassa-models");

    fn use_test_cache() {
        dynamic::set_cache_dir(CACHE);
    }

    /// Reads a register of a card, stepping it with an idle link.
    fn read(card: &mut Card, mem: &mut [u8], addr: u32) -> u32 {
        card.queue_read(addr);
        for _ in 0..100 {
            card.step(mem, LinkWord::default());
            if let Some(v) = card.take_read() {
                return v;
            }
        }
        panic!("read of {addr:#x} not answered");
    }

    #[test]
    fn param_registers_read_back_the_parameters() {
        use_test_cache();
        let p = params();
        let mut card = Card::with_params(&p).unwrap();
        assert_eq!(card.core().params(), p);
        assert!(card.core().library_path().is_some());
        let mut mem = vec![0u8; 1 << 16];
        let p0 = read(&mut card, &mut mem, rm::PARAM0.offset);
        assert_eq!(rm::PARAM0_TX_CACHE.get(p0), 8);
        assert_eq!(rm::PARAM0_RX_CACHE.get(p0), 8);
        assert_eq!(rm::PARAM0_MISS_BUF.get(p0), 3);
        assert_eq!(rm::PARAM0_SLOTS.get(p0), p.counter_slots);
        let p1 = read(&mut card, &mut mem, rm::PARAM1.offset);
        assert_eq!(rm::PARAM1_MAX_PAYLOAD.get(p1), 128);
        assert_eq!(rm::PARAM1_LINE.get(p1), p.line_bytes);
        assert_eq!(card.memory_faults, 0);
    }

    /// Node 0 maps physical page 0x20 to NVA page 0x500; node 1 maps it to its page 0x60.
    fn map_pair(net: &mut Network) {
        let tx = rm::map_attr(false, false, 1, 3);
        for (a, v) in rm::install_writes(true, 0, 0x20, 0x500, tx) {
            net.nodes[0].card.queue_write(a, v);
        }
        let rx = rm::map_attr(true, false, 2, 3);
        for (a, v) in rm::install_writes(false, 0, 0x500, 0x60, rx) {
            net.nodes[1].card.queue_write(a, v);
        }
        net.subscribe(0x500, 1);
    }

    /// Sends `message` from node 0's page 0x20 at `offset`, waits for the network to settle
    /// and checks it arrived whole at node 1's page 0x60.
    fn send_and_check(net: &mut Network, offset: usize, message: &[u8]) {
        let src = 0x20_000 + offset;
        net.nodes[0].mem[src..src + message.len()].copy_from_slice(message);
        let card = &mut net.nodes[0].card;
        card.queue_write(rm::DB_ADDR.offset, src as u32);
        card.queue_write(rm::DB_PUSH.offset, message.len() as u32);
        assert!(net.run_until_quiet(200, 50_000), "network did not go quiet");
        let dst = 0x60_000 + offset;
        assert_eq!(&net.nodes[1].mem[dst..dst + message.len()], message);
    }

    #[test]
    fn two_cards_at_the_parameters_exchange_a_packet() {
        use_test_cache();
        let mut net = Network::with_memories_for(vec![vec![0u8; 1 << 20]; 2], 3, &params())
            .expect("cards at the test parameters");
        map_pair(&mut net);
        let message: Vec<u8> = (0..300u32).map(|i| (i * 11 + 3) as u8).collect();
        send_and_check(&mut net, 0x10, &message);
        // max_payload = 128: 128 + 128 + 44 bytes (the default core sends 256 + 44).
        assert_eq!(net.stats().packets_in, 3);
        assert_eq!(net.stats().copies_out, 3);
        let node = &mut net.nodes[1];
        let packets = read(&mut node.card, &mut node.mem, rm::slot_counter_addr(2, 2));
        assert_eq!(packets, 3, "receiver's packet counter");
        assert!(net.nodes.iter().all(|n| n.card.memory_faults == 0));
    }

    /// A static default core sends to a loaded one in one process: each keeps its own
    /// Verilator runtime and answers with its own parameters.
    #[test]
    fn a_static_and_a_loaded_core_work_side_by_side() {
        use_test_cache();
        let nodes = vec![
            Node {
                card: Card::new(),
                mem: vec![0u8; 1 << 20],
            },
            Node {
                card: Card::with_params(&params()).unwrap(),
                mem: vec![0u8; 1 << 20],
            },
        ];
        let mut net = Network::with_nodes(nodes, 2);
        map_pair(&mut net);
        // One packet: within the receiver's max_payload.
        let message: Vec<u8> = (0..100u32).map(|i| (i * 5 + 1) as u8).collect();
        send_and_check(&mut net, 0x40, &message);
        assert_eq!(net.stats().packets_in, 1);
        let payloads: Vec<u32> = net
            .nodes
            .iter_mut()
            .map(|n| rm::PARAM1_MAX_PAYLOAD.get(read(&mut n.card, &mut n.mem, rm::PARAM1.offset)))
            .collect();
        assert_eq!(payloads, [256, 128]);
    }

    #[test]
    fn a_loaded_core_traces_like_the_static_one() {
        use_test_cache();
        let dir = std::path::Path::new(CACHE).join(format!("trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("card.{}", VerilatedCore::TRACE_FORMAT));
        let mut card = Card::with_params(&params()).unwrap();
        let mut mem = vec![0u8; 1 << 16];
        card.core().trace_to(&path).unwrap();
        assert!(card.core().trace_to(&path).is_err(), "one trace at a time");
        for _ in 0..10 {
            card.step(&mut mem, LinkWord::default());
        }
        card.core().trace_close();
        let trace = std::fs::read(&path).unwrap();
        if VerilatedCore::TRACE_FORMAT == "vcd" {
            let vcd = String::from_utf8_lossy(&trace);
            assert!(vcd.contains("bus_rdata"), "core signals are traced");
            let steps = vcd.lines().filter(|l| l.starts_with('#')).count();
            assert_eq!(steps, 2 * 10, "two dumps per cycle");
        } else {
            assert_eq!(trace[0], 0, "FST header block tag");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The library's path and modification time.
    fn library_state(m: &VerilatedCore) -> (std::path::PathBuf, std::time::SystemTime) {
        let path = m.library_path().expect("a loaded library").to_path_buf();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        (path, mtime)
    }

    #[test]
    fn later_calls_are_served_from_the_cache() {
        use_test_cache();
        let first = VerilatedCore::for_params(&params()).unwrap();
        let (path, mtime) = library_state(&first);
        assert!(path.starts_with(CACHE), "{}", path.display());
        let (builds, loads) = (dynamic::builds(), dynamic::loads());
        // Every test here shares the parameter set: one build at most, one load.
        assert!(builds <= 1 && loads == 1, "builds {builds}, loads {loads}");
        let second = VerilatedCore::for_params(&params()).unwrap();
        assert_eq!(library_state(&second), (path.clone(), mtime));
        assert_eq!((dynamic::builds(), dynamic::loads()), (builds, loads));
        // A new process opens the cached library without building it.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "built::child_loads_from_the_disk_cache",
                "--ignored",
                "--nocapture",
            ])
            .env("VASSA_MODEL_CACHE", CACHE)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed:\n{stdout}");
        assert!(stdout.contains("1 passed"), "child ran its test:\n{stdout}");
        assert!(
            stdout.contains(&format!("library {}", path.display())),
            "same library:\n{stdout}"
        );
        assert_eq!(library_state(&second), (path, mtime), "not rebuilt");
    }

    /// Run by `later_calls_are_served_from_the_cache` in a process of its own, with
    /// `VASSA_MODEL_CACHE` pointing at the test cache.
    #[test]
    #[ignore = "run by later_calls_are_served_from_the_cache in a new process"]
    fn child_loads_from_the_disk_cache() {
        let m = VerilatedCore::for_params(&params()).unwrap();
        assert_eq!((dynamic::builds(), dynamic::loads()), (0, 1));
        println!("library {}", m.library_path().unwrap().display());
    }

    // Measurements and checks that build more libraries (about 20 s each here): run them with
    // `cargo test --release -p vassa-sim --features build-models --test params -- --ignored
    // --exact built::<name> --nocapture`.

    /// The same two-card workload on the static default core and on one built at run time at
    /// the same parameters: same link words, memory writes and final memories; prints the
    /// speed of both.
    #[test]
    #[ignore = "builds a library at the default parameters; a measurement"]
    fn a_loaded_default_core_does_the_static_ones_work() {
        use vassa_sim::bench::{drive, two_card_workload, two_cards_rust};
        use_test_cache();
        let d = CoreParams::default();
        let sides = two_card_workload();
        let cycles = 400_000;
        let loaded = || Card::with_core(VerilatedCore::loaded(&d).unwrap());
        drive([loaded(), loaded()], &sides, 1000, |_| {}); // builds and warms up
                                                           // Alternate runs, best of three each: the machine may be busy with other work.
        let (mut best_static, mut best_loaded) = (0f64, 0f64);
        for _ in 0..3 {
            let s = two_cards_rust(&sides, cycles);
            let l = drive([loaded(), loaded()], &sides, cycles, |_| {});
            assert!(s.same_work(&l), "static and loaded cores differ");
            assert!(s.stats[0].tx_words > 0 && s.stats[1].write_beats > 0);
            best_static = best_static.max(s.cycles_per_second());
            best_loaded = best_loaded.max(l.cycles_per_second());
        }
        println!(
            "two cards, {cycles} cycles, best of 3: static {best_static:.0} cycles/s, \
             loaded {best_loaded:.0} cycles/s ({:+.1} %)",
            100.0 * (best_loaded / best_static - 1.0)
        );
    }

    /// Two libraries at different parameters and the static model in one process, interleaved.
    #[test]
    #[ignore = "builds a second library"]
    fn two_parameter_sets_in_one_process() {
        use_test_cache();
        let other = CoreParams {
            counter_slots: 16,
            line_bytes: 16,
            ..params()
        };
        let mut cards = [
            Card::new(),
            Card::with_params(&params()).unwrap(),
            Card::with_params(&other).unwrap(),
        ];
        assert_ne!(
            cards[1].core().library_path(),
            cards[2].core().library_path()
        );
        let mut mem = vec![0u8; 1 << 16];
        for card in &mut cards {
            card.queue_read(rm::PARAM0.offset);
            card.queue_read(rm::PARAM1.offset);
        }
        let mut answers = vec![vec![]; 3];
        for _ in 0..100 {
            for (card, got) in cards.iter_mut().zip(&mut answers) {
                card.step(&mut mem, LinkWord::default());
                got.extend(card.take_read());
            }
        }
        let field = |i: usize, f: vassa_spec::Field, w: usize| f.get(answers[i][w]);
        assert_eq!(field(0, rm::PARAM0_SLOTS, 0), 32);
        assert_eq!(field(1, rm::PARAM0_SLOTS, 0), 32);
        assert_eq!(field(2, rm::PARAM0_SLOTS, 0), 16);
        assert_eq!(field(0, rm::PARAM1_LINE, 1), 32);
        assert_eq!(field(1, rm::PARAM1_LINE, 1), 32);
        assert_eq!(field(2, rm::PARAM1_LINE, 1), 16);
        assert_eq!(field(2, rm::PARAM1_MAX_PAYLOAD, 1), 128);
    }
}
