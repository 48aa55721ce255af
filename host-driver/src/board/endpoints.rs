//! The FrontPanel endpoint API, as far as the board protocol needs it.
//!
//! Opal Kelly's host API moves 16-bit *wires* (set locally, then sent in one transaction by
//! `UpdateWireIns`; fetched in one transaction by `UpdateWireOuts`, then read locally),
//! *triggers* (a trigger-in bit pulses once in the FPGA; trigger-outs pulsed since the last
//! `UpdateTriggerOuts` are fetched by it and tested locally) and *pipes* (a stream of bytes
//! into or out of a FIFO, 16-bit words, low byte first on USB 2.0). [`Endpoints`] is that
//! shape plus time, so the protocol ([`super::BoardFabric`]) runs unchanged over the real
//! device (`board::frontpanel::FrontPanel`, feature `frontpanel`) and over a simulated board
//! (`vassa_harness::board_sim::SimEndpoints`).

use thiserror::Error;

/// A failed endpoint operation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EndpointError {
    /// The device API returned a negative error code.
    #[error("{op}{}: FrontPanel error {code} ({})", at(*addr), error_name(*code))]
    Device {
        op: &'static str,
        addr: Option<u8>,
        code: i32,
    },
    /// A pipe moved fewer bytes than asked.
    #[error("{op} on pipe {addr:#04x}: moved {moved} of {wanted} bytes")]
    Short {
        op: &'static str,
        addr: u8,
        wanted: usize,
        moved: usize,
    },
    /// The request cannot be expressed on the link (e.g. an odd pipe length: pipes move
    /// 16-bit words).
    #[error("{op}{}: {why}", at(*addr))]
    Invalid {
        op: &'static str,
        addr: Option<u8>,
        why: String,
    },
}

fn at(addr: Option<u8>) -> String {
    addr.map(|a| format!(" on endpoint {a:#04x}"))
        .unwrap_or_default()
}

/// The name of a FrontPanel `ok_ErrorCode` (as documented in Opal Kelly's API reference).
pub fn error_name(code: i32) -> &'static str {
    match code {
        0 => "NoError",
        -1 => "Failed",
        -2 => "Timeout",
        -3 => "DoneNotHigh",
        -4 => "TransferError",
        -5 => "CommunicationError",
        -6 => "InvalidBitstream",
        -7 => "FileError",
        -8 => "DeviceNotOpen",
        -9 => "InvalidEndpoint",
        -10 => "InvalidBlockSize",
        -11 => "I2CRestrictedAddress",
        -12 => "I2CBitError",
        -13 => "I2CNack",
        -14 => "I2CUnknownStatus",
        -15 => "UnsupportedFeature",
        -16 => "FIFOUnderflow",
        -17 => "FIFOOverflow",
        -18 => "DataAlignmentError",
        -19 => "InvalidResetProfile",
        -20 => "InvalidParameter",
        _ => "unknown error code",
    }
}

/// Nominal core clock of the board (the XEM6010's 100 MHz system clock): the unit of
/// [`Endpoints::now_core_cycles`].
pub const CORE_CLOCK_HZ: u64 = 100_000_000;

/// The FrontPanel endpoints of one configured board, plus time.
///
/// Addresses are FrontPanel endpoint addresses (wire-ins 0x00–0x1F, wire-outs 0x20–0x3F,
/// trigger-ins 0x40–0x5F, trigger-outs 0x60–0x7F, pipe-ins 0x80–0x9F, pipe-outs 0xA0–0xBF).
pub trait Endpoints {
    /// Sets a wire-in value locally; it reaches the FPGA with the next
    /// [`Endpoints::update_wire_ins`].
    fn set_wire_in(&mut self, addr: u8, value: u16) -> Result<(), EndpointError>;
    /// Sends every wire-in value to the FPGA (one transaction).
    fn update_wire_ins(&mut self) -> Result<(), EndpointError>;
    /// Fetches every wire-out value from the FPGA (one transaction).
    fn update_wire_outs(&mut self) -> Result<(), EndpointError>;
    /// A wire-out value as of the last [`Endpoints::update_wire_outs`].
    fn get_wire_out(&self, addr: u8) -> u16;
    /// Pulses bit `bit` of trigger-in `addr` once in the FPGA.
    fn activate_trigger_in(&mut self, addr: u8, bit: u32) -> Result<(), EndpointError>;
    /// Fetches the trigger-out bits that pulsed since the previous call.
    fn update_trigger_outs(&mut self) -> Result<(), EndpointError>;
    /// Whether any bit of `mask` of trigger-out `addr` pulsed before the last
    /// [`Endpoints::update_trigger_outs`] (and after the one before).
    fn is_triggered(&self, addr: u8, mask: u16) -> bool;
    /// Writes all of `data` into pipe-in `addr` (an even number of bytes: 16-bit words, low
    /// byte first). A short transfer is an error.
    fn write_to_pipe_in(&mut self, addr: u8, data: &[u8]) -> Result<(), EndpointError>;
    /// Fills all of `data` from pipe-out `addr` (an even number of bytes). A short transfer is
    /// an error.
    fn read_from_pipe_out(&mut self, addr: u8, data: &mut [u8]) -> Result<(), EndpointError>;

    /// Time in core clock cycles ([`CORE_CLOCK_HZ`]) since the endpoints were opened. Every
    /// endpoint operation takes time too (USB transactions, or the simulated `ti_clk` cycles).
    fn now_core_cycles(&self) -> u64;
    /// Lets at least `core_cycles` pass: the simulation runs its clocks, the real board sleeps.
    fn advance(&mut self, core_cycles: u64);
}

/// Checks that a pipe transfer of `len` bytes is whole 16-bit words.
pub fn check_pipe_len(op: &'static str, addr: u8, len: usize) -> Result<(), EndpointError> {
    if len.is_multiple_of(2) {
        Ok(())
    } else {
        Err(EndpointError::Invalid {
            op,
            addr: Some(addr),
            why: format!("{len} bytes is not a whole number of 16-bit pipe words"),
        })
    }
}

/// Interprets a FrontPanel pipe call's return value (a byte count, or a negative error code)
/// for a transfer of `wanted` bytes.
pub fn pipe_result(
    op: &'static str,
    addr: u8,
    wanted: usize,
    returned: i64,
) -> Result<(), EndpointError> {
    if returned < 0 {
        return Err(EndpointError::Device {
            op,
            addr: Some(addr),
            code: i32::try_from(returned).unwrap_or(i32::MIN),
        });
    }
    let moved = returned as usize;
    if moved == wanted {
        Ok(())
    } else {
        Err(EndpointError::Short {
            op,
            addr,
            wanted,
            moved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_results_are_counts_or_named_errors() {
        assert_eq!(pipe_result("WriteToPipeIn", 0x80, 8, 8), Ok(()));
        let short = pipe_result("WriteToPipeIn", 0x80, 8, 6).unwrap_err();
        assert_eq!(
            short.to_string(),
            "WriteToPipeIn on pipe 0x80: moved 6 of 8 bytes"
        );
        let e = pipe_result("ReadFromPipeOut", 0xA0, 8, -2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ReadFromPipeOut on endpoint 0xa0: FrontPanel error -2 (Timeout)"
        );
        assert!(check_pipe_len("WriteToPipeIn", 0x80, 3).is_err());
        assert!(check_pipe_len("WriteToPipeIn", 0x80, 4).is_ok());
    }
}
