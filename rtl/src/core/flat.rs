//! `VassaCore`: [`Core`] with flat ports, the Verilog top `vassa_core`. The port names are a
//! contract with the simulator's shim, the C++ bench loop and the differential tests; Verilog
//! cannot carry rust-hdl's interfaces, so they are spelled out here once.

use super::{Core, RX_TRACE_PORT_BITS};
use crate::interfaces::{BURST_BITS, BUS_ADDR_BITS, STROBE_BITS, WORD_BITS};
use crate::spec::params::CoreParams;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct VassaCore {
    pub clock: Signal<In, Clock>,
    // Host register bus.
    pub bus_addr: Signal<In, Bits<BUS_ADDR_BITS>>,
    pub bus_wdata: Signal<In, Bits<WORD_BITS>>,
    pub bus_write: Signal<In, Bit>,
    pub bus_read: Signal<In, Bit>,
    pub bus_rdata: Signal<Out, Bits<WORD_BITS>>,
    pub bus_rvalid: Signal<Out, Bit>,
    pub irq: Signal<Out, Bit>,
    /// See [`Core::map_busy`].
    pub map_busy: Signal<Out, Bit>,
    /// See [`Core::drop_event`].
    pub drop_event: Signal<Out, Bit>,
    /// See [`Core::rx_trace`].
    pub rx_trace: Signal<Out, Bits<RX_TRACE_PORT_BITS>>,
    // Memory read port.
    pub mem_rd_req_valid: Signal<Out, Bit>,
    pub mem_rd_req_addr: Signal<Out, Bits<WORD_BITS>>,
    pub mem_rd_req_len: Signal<Out, Bits<BURST_BITS>>,
    pub mem_rd_req_ready: Signal<In, Bit>,
    pub mem_rd_data_valid: Signal<In, Bit>,
    pub mem_rd_data: Signal<In, Bits<WORD_BITS>>,
    // Memory write port.
    pub mem_wr_valid: Signal<Out, Bit>,
    pub mem_wr_addr: Signal<Out, Bits<WORD_BITS>>,
    pub mem_wr_data: Signal<Out, Bits<WORD_BITS>>,
    pub mem_wr_strb: Signal<Out, Bits<STROBE_BITS>>,
    pub mem_wr_last: Signal<Out, Bit>,
    pub mem_wr_ready: Signal<In, Bit>,
    // Link.
    pub link_tx_valid: Signal<Out, Bit>,
    pub link_tx_sop: Signal<Out, Bit>,
    pub link_tx_eop: Signal<Out, Bit>,
    pub link_tx_data: Signal<Out, Bits<WORD_BITS>>,
    pub link_rx_valid: Signal<In, Bit>,
    pub link_rx_sop: Signal<In, Bit>,
    pub link_rx_eop: Signal<In, Bit>,
    pub link_rx_data: Signal<In, Bits<WORD_BITS>>,
    core: Core,
}

impl VassaCore {
    /// Builds the core; `params` must already be validated.
    pub fn new(params: &CoreParams) -> Self {
        VassaCore {
            clock: Default::default(),
            bus_addr: Default::default(),
            bus_wdata: Default::default(),
            bus_write: Default::default(),
            bus_read: Default::default(),
            bus_rdata: Default::default(),
            bus_rvalid: Default::default(),
            irq: Default::default(),
            map_busy: Default::default(),
            drop_event: Default::default(),
            rx_trace: Default::default(),
            mem_rd_req_valid: Default::default(),
            mem_rd_req_addr: Default::default(),
            mem_rd_req_len: Default::default(),
            mem_rd_req_ready: Default::default(),
            mem_rd_data_valid: Default::default(),
            mem_rd_data: Default::default(),
            mem_wr_valid: Default::default(),
            mem_wr_addr: Default::default(),
            mem_wr_data: Default::default(),
            mem_wr_strb: Default::default(),
            mem_wr_last: Default::default(),
            mem_wr_ready: Default::default(),
            link_tx_valid: Default::default(),
            link_tx_sop: Default::default(),
            link_tx_eop: Default::default(),
            link_tx_data: Default::default(),
            link_rx_valid: Default::default(),
            link_rx_sop: Default::default(),
            link_rx_eop: Default::default(),
            link_rx_data: Default::default(),
            core: Core::new(params),
        }
    }

    pub fn params(&self) -> &CoreParams {
        self.core.params()
    }
}

impl Logic for VassaCore {
    #[hdl_gen]
    fn update(&mut self) {
        self.core.clock.next = self.clock.val();
        self.core.bus.addr.next = self.bus_addr.val();
        self.core.bus.wdata.next = self.bus_wdata.val();
        self.core.bus.write.next = self.bus_write.val();
        self.core.bus.read.next = self.bus_read.val();
        self.bus_rdata.next = self.core.bus.rdata.val();
        self.bus_rvalid.next = self.core.bus.rvalid.val();
        self.irq.next = self.core.irq.val();
        self.map_busy.next = self.core.map_busy.val();
        self.drop_event.next = self.core.drop_event.val();
        self.rx_trace.next = self.core.rx_trace.val();

        self.mem_rd_req_valid.next = self.core.mem_rd.req_valid.val();
        self.mem_rd_req_addr.next = self.core.mem_rd.req_addr.val();
        self.mem_rd_req_len.next = self.core.mem_rd.req_len.val();
        self.core.mem_rd.req_ready.next = self.mem_rd_req_ready.val();
        self.core.mem_rd.data_valid.next = self.mem_rd_data_valid.val();
        self.core.mem_rd.data.next = self.mem_rd_data.val();

        self.mem_wr_valid.next = self.core.mem_wr.valid.val();
        self.mem_wr_addr.next = self.core.mem_wr.addr.val();
        self.mem_wr_data.next = self.core.mem_wr.data.val();
        self.mem_wr_strb.next = self.core.mem_wr.strb.val();
        self.mem_wr_last.next = self.core.mem_wr.last.val();
        self.core.mem_wr.ready.next = self.mem_wr_ready.val();

        self.link_tx_valid.next = self.core.link_tx.valid.val();
        self.link_tx_sop.next = self.core.link_tx.sop.val();
        self.link_tx_eop.next = self.core.link_tx.eop.val();
        self.link_tx_data.next = self.core.link_tx.data.val();
        self.core.link_rx.valid.next = self.link_rx_valid.val();
        self.core.link_rx.sop.next = self.link_rx_sop.val();
        self.core.link_rx.eop.next = self.link_rx_eop.val();
        self.core.link_rx.data.next = self.link_rx_data.val();
    }
}
