//! Checks scenario files: `cargo run -p vassa-harness --example scenario_check -- FILE...`;
//! prints `FILE: ok` or the one-line error of each, and exits 1 if any is bad.

fn main() {
    let mut bad = false;
    for path in std::env::args().skip(1) {
        match vassa_harness::scenario::Scenario::from_file(&path) {
            Ok(s) => println!(
                "{path}: ok ({} nodes, {} channels, {} traffic entries)",
                s.nodes.len(),
                s.channels.len(),
                s.traffic.len()
            ),
            Err(e) => {
                println!("{e}");
                bad = true;
            }
        }
    }
    std::process::exit(i32::from(bad));
}
