//! Board-level hardware: what surrounds the core on an FPGA board.
//!
//! - [`byte_ram::ByteRam`]: block RAM with byte-lane write strobes.
//! - [`card_memory::CardMemory`]: the card's physical memory, serving the core's memory port
//!   and a host word port.
//! - [`board_card::BoardCard`]: core + memory + link loopback + activity LEDs, one clock.
//! - [`frontpanel_bridge::FrontPanelBridge`] / [`frontpanel_card::FrontPanelCard`]: the
//!   Opal Kelly FrontPanel endpoints' user side (XEM6010) and everything behind them.
//! - [`uart_bridge::UartBridge`]: the Alchitry Cu's UART frames to the register bus and the
//!   host word port.

pub mod board_card;
pub mod byte_ram;
pub mod card_memory;
pub mod frontpanel_bridge;
pub mod frontpanel_card;
pub mod uart_bridge;

/// Card memory of the XEM6010 build: 64 KiB of block RAM (32 of the xc6slx45's 116 RAMB16).
pub const XEM6010_MEM_BYTES: usize = 64 * 1024;

/// Activity stretch of the board builds: 0.1 s at the 100 MHz core clock.
pub const LED_STRETCH_CYCLES: u32 = 10_000_000;
