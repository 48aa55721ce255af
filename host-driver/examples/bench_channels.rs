//! `vassa bench channels [--quick]` without building the CLI (and rust-hdl): prints
//! `vassa_driver::bench::channels` as markdown.

fn main() {
    let quick = std::env::args().skip(1).any(|a| a == "--quick");
    print!("{}", vassa_driver::bench::channels(quick));
}
