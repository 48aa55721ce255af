//! [`Endpoints`] over the real Opal Kelly FrontPanel API (feature `frontpanel`).
//!
//! Built on the C bindings of `rust-hdl-ok-frontpanel-sys` (its build script runs bindgen on
//! `$OK_FRONTPANEL_DIR/okFrontPanel.h` and links `libokFrontPanel.so` from there). The crate's
//! safe wrapper (`OkHandle`) drops what the protocol needs — the error codes of the update
//! calls, and of pipe transfers, which it maps to a bare -1 — so this calls the C functions
//! directly with a handle of its own: every negative return is an [`EndpointError::Device`]
//! naming the call, the endpoint and the code.
//!
//! Time is wall time since the device was opened, counted in cycles of the board's 100 MHz
//! core clock; [`Endpoints::advance`] sleeps.

use super::board_fabric::{BoardConfig, BoardError, BoardFabric};
use super::endpoints::{check_pipe_len, pipe_result, EndpointError, Endpoints, CORE_CLOCK_HZ};
use rust_hdl_ok_frontpanel_sys as ok;
use std::ffi::CString;
use std::path::Path;
use std::time::{Duration, Instant};

/// A call's return value as an error code: the update calls return `ok_ErrorCode` in current
/// SDKs and nothing in some older ones; both compile.
trait ReturnCode {
    fn code(self) -> i32;
}

impl ReturnCode for () {
    fn code(self) -> i32 {
        0
    }
}

impl ReturnCode for i32 {
    fn code(self) -> i32 {
        self
    }
}

fn check(op: &'static str, addr: Option<u8>, ret: impl ReturnCode) -> Result<(), EndpointError> {
    match ret.code() {
        code if code < 0 => Err(EndpointError::Device { op, addr, code }),
        _ => Ok(()),
    }
}

/// One opened FrontPanel device.
pub struct FrontPanel {
    hnd: ok::okFrontPanel_HANDLE,
    opened: Instant,
}

impl FrontPanel {
    /// Opens the device with serial number `serial` (`""`: the first one found).
    pub fn open(serial: &str) -> Result<Self, EndpointError> {
        let invalid = |why: String| EndpointError::Invalid {
            op: "okFrontPanel_OpenBySerial",
            addr: None,
            why,
        };
        let s = CString::new(serial).map_err(|e| invalid(e.to_string()))?;
        // SAFETY: Construct takes no arguments; a null handle is checked below.
        let hnd = unsafe { ok::okFrontPanel_Construct() };
        if hnd.is_null() {
            return Err(EndpointError::Device {
                op: "okFrontPanel_Construct",
                addr: None,
                code: -1,
            });
        }
        let fp = FrontPanel {
            hnd,
            opened: Instant::now(),
        };
        // SAFETY: a live handle and a NUL-terminated string that outlives the call.
        let r = unsafe { ok::okFrontPanel_OpenBySerial(fp.hnd, s.as_ptr()) };
        check("okFrontPanel_OpenBySerial", None, r)?;
        Ok(fp)
    }

    /// Loads a bitstream (`.bit` file) into the FPGA.
    pub fn configure(&mut self, bitfile: &Path) -> Result<(), EndpointError> {
        let path = bitfile.to_str().and_then(|p| CString::new(p).ok());
        let path = path.ok_or_else(|| EndpointError::Invalid {
            op: "okFrontPanel_ConfigureFPGA",
            addr: None,
            why: format!("bitstream path {} is not a C string", bitfile.display()),
        })?;
        // SAFETY: a live handle and a NUL-terminated string that outlives the call.
        let r = unsafe { ok::okFrontPanel_ConfigureFPGA(self.hnd, path.as_ptr()) };
        check("okFrontPanel_ConfigureFPGA", None, r)
    }
}

/// Opens the XEM6010 with serial `serial`, loads `bitfile` into its FPGA when given, and opens
/// the card behind it ([`BoardFabric::with_config`]: refuses a board whose bitstream is not
/// VASSA's).
pub fn open_board(
    serial: &str,
    bitfile: Option<&Path>,
    config: BoardConfig,
) -> Result<BoardFabric<FrontPanel>, BoardError> {
    let mut fp = FrontPanel::open(serial)?;
    if let Some(bit) = bitfile {
        fp.configure(bit)?;
    }
    BoardFabric::with_config(fp, config)
}

impl Drop for FrontPanel {
    fn drop(&mut self) {
        // SAFETY: the handle came from Construct and is destroyed once, here.
        unsafe {
            ok::okFrontPanel_Close(self.hnd);
            ok::okFrontPanel_Destruct(self.hnd);
        }
    }
}

impl Endpoints for FrontPanel {
    fn set_wire_in(&mut self, addr: u8, value: u16) -> Result<(), EndpointError> {
        // SAFETY: a live handle; plain integer arguments.
        let r = unsafe {
            ok::okFrontPanel_SetWireInValue(self.hnd, addr as _, value as _, 0xFFFF as _)
        };
        check("okFrontPanel_SetWireInValue", Some(addr), r)
    }

    fn update_wire_ins(&mut self) -> Result<(), EndpointError> {
        // SAFETY: a live handle.
        let r = unsafe { ok::okFrontPanel_UpdateWireIns(self.hnd) };
        check("okFrontPanel_UpdateWireIns", None, r)
    }

    fn update_wire_outs(&mut self) -> Result<(), EndpointError> {
        // SAFETY: a live handle.
        let r = unsafe { ok::okFrontPanel_UpdateWireOuts(self.hnd) };
        check("okFrontPanel_UpdateWireOuts", None, r)
    }

    fn get_wire_out(&self, addr: u8) -> u16 {
        // SAFETY: a live handle; reads the library's copy of the last update.
        unsafe { ok::okFrontPanel_GetWireOutValue(self.hnd, addr as _) as u16 }
    }

    fn activate_trigger_in(&mut self, addr: u8, bit: u32) -> Result<(), EndpointError> {
        // SAFETY: a live handle; plain integer arguments.
        let r = unsafe { ok::okFrontPanel_ActivateTriggerIn(self.hnd, addr as _, bit as _) };
        check("okFrontPanel_ActivateTriggerIn", Some(addr), r)
    }

    fn update_trigger_outs(&mut self) -> Result<(), EndpointError> {
        // SAFETY: a live handle.
        let r = unsafe { ok::okFrontPanel_UpdateTriggerOuts(self.hnd) };
        check("okFrontPanel_UpdateTriggerOuts", None, r)
    }

    fn is_triggered(&self, addr: u8, mask: u16) -> bool {
        // SAFETY: a live handle; reads the library's copy of the last update.
        unsafe { ok::okFrontPanel_IsTriggered(self.hnd, addr as _, mask as _) != 0 }
    }

    fn write_to_pipe_in(&mut self, addr: u8, data: &[u8]) -> Result<(), EndpointError> {
        const OP: &str = "okFrontPanel_WriteToPipeIn";
        check_pipe_len(OP, addr, data.len())?;
        // SAFETY: a live handle; the library reads `data.len()` bytes of `data` (the C
        // prototype takes a non-const pointer but does not write through it).
        let n = unsafe {
            ok::okFrontPanel_WriteToPipeIn(
                self.hnd,
                addr as _,
                data.len() as _,
                data.as_ptr() as *mut _,
            )
        };
        pipe_result(OP, addr, data.len(), n as i64)
    }

    fn read_from_pipe_out(&mut self, addr: u8, data: &mut [u8]) -> Result<(), EndpointError> {
        const OP: &str = "okFrontPanel_ReadFromPipeOut";
        check_pipe_len(OP, addr, data.len())?;
        // SAFETY: a live handle; the library writes at most `data.len()` bytes into `data`.
        let n = unsafe {
            ok::okFrontPanel_ReadFromPipeOut(
                self.hnd,
                addr as _,
                data.len() as _,
                data.as_mut_ptr(),
            )
        };
        pipe_result(OP, addr, data.len(), n as i64)
    }

    fn now_core_cycles(&self) -> u64 {
        let ns = self.opened.elapsed().as_nanos();
        (ns * CORE_CLOCK_HZ as u128 / 1_000_000_000) as u64
    }

    fn advance(&mut self, core_cycles: u64) {
        let ns = core_cycles as u128 * 1_000_000_000 / CORE_CLOCK_HZ as u128;
        std::thread::sleep(Duration::from_nanos(ns.min(u64::MAX as u128) as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linked against the stub SDK (ok-sdk-stub/check.sh --test) no device opens: the error
    /// names the call. Against the real SDK with no board attached, the same.
    #[test]
    fn opening_without_a_device_is_an_error_not_a_panic() {
        let e = FrontPanel::open("")
            .err()
            .expect("no FrontPanel device here");
        assert!(
            e.to_string().starts_with("okFrontPanel_"),
            "unexpected error: {e}"
        );
        let e = open_board("", None, BoardConfig::default()).err().unwrap();
        assert!(matches!(e, BoardError::Endpoint(_)), "{e}");
    }
}
