//! VASSA host driver.

pub mod scenario;
