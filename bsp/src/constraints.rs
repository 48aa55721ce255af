//! The boards' pin constraint files, generated from the board tops (pins, I/O standards and
//! clock periods attached to their signals). `vassa gen --constraints constraints` writes
//! them; a test checks that the checked-in copies in constraints/ match.

/// File name → contents of every board's constraints.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("xem6010.ucf", crate::xem6010::ucf(&crate::xem6010::top())),
        ("alchitry_cu.pcf", crate::cu::pcf()),
    ]
}
