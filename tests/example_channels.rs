//! Runs `examples/channels.rs` (it asserts what it prints), so `cargo test` fails when it does.

#[path = "../examples/channels.rs"]
mod example;

#[test]
fn channels_example_runs() {
    example::main().unwrap();
}
