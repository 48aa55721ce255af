//! `vassa bench channels [--quick]` without building the CLI (and rust-hdl): prints
//! `vassa_harness::bench::channels` as markdown.

fn main() {
    let quick = std::env::args().skip(1).any(|a| a == "--quick");
    print!("{}", vassa_harness::bench::channels(quick));
}
