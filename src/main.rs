//! The `vassa` command (see the library: `src/lib.rs`).

fn main() {
    std::process::exit(vassa::main(std::env::args_os()));
}
