//! The checked-in constraint files are the ones the board descriptions generate.

#[test]
fn checked_in_constraints_match_the_board_tops() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../constraints");
    for (name, text) in vassa_bsp::constraints::all() {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| {
            panic!("constraints/{name}: {e}; run `cargo run -- gen --constraints constraints`")
        });
        assert!(
            on_disk == text,
            "constraints/{name} differs from the board top; run \
             `cargo run -- gen --constraints constraints`"
        );
    }
}
