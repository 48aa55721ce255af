//! Board-level blocks: what sits between the core and a board's host link.

pub mod uart_bridge;
