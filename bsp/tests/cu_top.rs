//! The Alchitry Cu top in simulation: a serial host model on `usb_rx`/`usb_tx` talks to the real
//! `BoardCard` through the `UartBridge` (UART at 4 clocks a bit so rust-hdl's simulation stays
//! short), and the LEDs show the traffic. Also the pin constraints.

use vassa_bsp::cu::{self, CuTop};
use vassa_hdl_tools::testbench::Bench;
use vassa_rtl::board::board_card::led;
use vassa_rtl::board::uart_bridge::host_model::{exchange, frame, word, SerialHost, UartDut};
use vassa_spec::board::{uart, BOARD_MAGIC};
use vassa_spec::params::CoreParams;
use vassa_spec::regmap as rm;

const CPB: usize = 4;
const MEM_BYTES: usize = 8192;
/// LED pulses in the test: long enough to see after a frame's reply.
const STRETCH: u32 = 4000;
const LIMIT: usize = 5000;

struct Cu {
    b: Bench<CuTop>,
    host: SerialHost,
    /// LEDs seen lit since the last `take_leds`.
    leds_seen: u8,
}

impl Cu {
    fn new() -> Self {
        let top = CuTop::new(&CoreParams::default(), MEM_BYTES, CPB as u32, STRETCH);
        Cu {
            b: Bench::new(top, |t| &mut t.clock),
            host: SerialHost::new(CPB),
            leds_seen: 0,
        }
    }

    /// Sends a request and returns its reply (`replies` bytes).
    fn request(&mut self, bytes: &[u8], replies: usize) -> Vec<u8> {
        let mut dut = LedWatch(&mut self.b, &mut self.leds_seen);
        exchange(&mut dut, &mut self.host, bytes, replies, LIMIT)
    }

    fn write(&mut self, addr: u32, value: u32) {
        let f = frame(uart::OP_REG_WRITE, addr, Some(value));
        assert_eq!(self.request(&f, 1), [uart::ACK], "write {addr:#x}");
    }

    fn read(&mut self, addr: u32) -> u32 {
        word(&self.request(&frame(uart::OP_REG_READ, addr, None), 4))
    }

    fn mem_write(&mut self, addr: u32, value: u32) {
        let f = frame(uart::OP_MEM_WRITE, addr, Some(value));
        assert_eq!(self.request(&f, 1), [uart::ACK], "memory write {addr:#x}");
    }

    fn mem_read(&mut self, addr: u32) -> u32 {
        word(&self.request(&frame(uart::OP_MEM_READ, addr, None), 4))
    }

    fn take_leds(&mut self) -> u8 {
        std::mem::take(&mut self.leds_seen)
    }
}

/// Steps the top and remembers every LED that was lit.
struct LedWatch<'a>(&'a mut Bench<CuTop>, &'a mut u8);

impl UartDut for LedWatch<'_> {
    fn cycle(&mut self, rx: bool) -> bool {
        self.0.uut.usb_rx.next = rx;
        self.0.step();
        *self.1 |= self.0.uut.leds.val().to_u64() as u8;
        self.0.uut.usb_tx.val()
    }
}

#[test]
fn info_and_identity_registers_round_trip() {
    let mut cu = Cu::new();
    let info = word(&cu.request(&frame(uart::OP_INFO, 0, None), 4));
    assert_eq!(info, BOARD_MAGIC as u32 | (MEM_BYTES as u32 / 1024) << 16);
    assert_eq!(cu.read(rm::ID.offset), rm::MAGIC);
    assert_eq!(cu.read(rm::VERSION_REG.offset), rm::VERSION);
    cu.write(rm::NODE_ID.offset, 0x5A);
    assert_eq!(cu.read(rm::NODE_ID.offset), 0x5A);
    let leds = cu.take_leds();
    assert_ne!(leds & 1 << led::HOST_REG, 0, "register LED: {leds:08b}");
    assert_ne!(leds & 1 << led::LOOPBACK, 0, "loopback LED: {leds:08b}");
}

#[test]
fn memory_words_round_trip_and_refusals_nak() {
    let mut cu = Cu::new();
    cu.mem_write(0, 0x0123_4567);
    cu.mem_write(MEM_BYTES as u32 - 4, 0x89AB_CDEF);
    assert_eq!(cu.mem_read(MEM_BYTES as u32 - 4), 0x89AB_CDEF);
    assert_eq!(cu.mem_read(0), 0x0123_4567);
    assert_ne!(cu.take_leds() & 1 << led::HOST_MEM, 0);
    for f in [
        frame(uart::OP_MEM_READ, MEM_BYTES as u32, None),
        frame(uart::OP_MEM_WRITE, 0x2, Some(1)),
        frame(uart::OP_REG_READ, 0x1000, None),
        vec![b'z'],
    ] {
        assert_eq!(cu.request(&f, 1), [uart::NAK], "{f:02x?}");
    }
    // Nothing refused was written.
    assert_eq!(cu.mem_read(0), 0x0123_4567);
}

#[test]
fn back_to_back_frames_and_garbage_then_a_frame() {
    let mut cu = Cu::new();
    let mut bytes = vec![0xEE];
    bytes.extend(frame(uart::OP_MEM_WRITE, 0x40, Some(0xCAFE_F00D)));
    bytes.extend(frame(uart::OP_MEM_READ, 0x40, None));
    bytes.extend(frame(uart::OP_REG_READ, rm::ID.offset, None));
    let got = cu.request(&bytes, 1 + 1 + 4 + 4);
    let mut want = vec![uart::NAK, uart::ACK];
    want.extend(0xCAFE_F00Du32.to_le_bytes());
    want.extend(rm::MAGIC.to_le_bytes());
    assert_eq!(got, want);
}

/// A message sent over the card's own loopback, all set up through the UART: the TX cache maps
/// page 0 to NVA page 0x200, the RX cache maps it back to page 1; the payload lands in page 1
/// and the sent / received LEDs light.
#[test]
fn loopback_traffic_set_up_over_the_uart_lights_the_leds() {
    let mut cu = Cu::new();
    let msg: Vec<u32> = (0..4u32).map(|i| 0x1111_1111 * (i + 1)).collect();
    for (i, w) in msg.iter().enumerate() {
        cu.mem_write(4 * i as u32, *w);
    }
    cu.write(rm::NODE_ID.offset, 1);
    let tx_attr = rm::map_attr(false, false, 1, 3);
    let rx_attr = rm::map_attr(true, false, 2, 3);
    for (a, v) in rm::install_writes(true, 0, 0, 0x200, tx_attr) {
        cu.write(a, v);
    }
    for (a, v) in rm::install_writes(false, 0, 0x200, 1, rx_attr) {
        cu.write(a, v);
    }
    cu.take_leds();
    cu.write(rm::DB_ADDR.offset, 0);
    cu.write(rm::DB_PUSH.offset, 16);
    // Let the packet go round (the reply of a read takes longer than the packet).
    for (i, w) in msg.iter().enumerate() {
        assert_eq!(cu.mem_read(4096 + 4 * i as u32), *w, "word {i} of page 1");
    }
    let leds = cu.take_leds();
    assert_ne!(leds & 1 << led::SENT, 0, "sent LED: {leds:08b}");
    assert_ne!(leds & 1 << led::RECEIVED, 0, "received LED: {leds:08b}");
    assert_eq!(leds & 1 << led::DROP, 0, "drop LED: {leds:08b}");
}

#[test]
fn pins_follow_the_board() {
    let pcf = cu::pcf();
    for line in [
        "set_io clock P7",
        "set_io usb_rx P14",
        "set_io usb_tx M9",
        "set_io leds[0] J11",
        "set_io leds[7] N14",
    ] {
        assert!(
            pcf.lines().any(|l| l == line),
            "{line:?} missing from\n{pcf}"
        );
    }
    assert_eq!(pcf.lines().count(), 11, "{pcf}");
}

#[test]
fn verilog_is_clean() {
    vassa_hdl_tools::testbench::yosys_check("cu_top", cu::top());
    vassa_hdl_tools::testbench::lint_check("cu_top", cu::top());
}
