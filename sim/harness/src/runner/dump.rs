//! `--dump-memory DIR`: each node's physical memory image (`NODE.mem`, byte address = offset)
//! and what was mapped in it (`NODE.json`: segments and TX/RX mappings), so anyone can check
//! that nothing was written outside them.

use super::RunError;
use crate::fabric::{Fabric, Switch};
use crate::scenario::Scenario;
use serde::Serialize;
use std::path::Path;
use vassa_driver::channel::{ChannelId, Channels};
use vassa_driver::driver::{Dir, Mapping};
use vassa_spec::params::PAGE_SHIFT;

#[derive(Serialize)]
struct NodeDump {
    node: String,
    id: usize,
    memory_bytes: usize,
    image: String,
    segments: Vec<SegmentDump>,
    tx_mappings: Vec<MappingDump>,
    rx_mappings: Vec<MappingDump>,
}

#[derive(Serialize)]
struct SegmentDump {
    channel: String,
    writes: bool,
    reads: bool,
    /// Physical byte addresses start..end.
    start: u32,
    end: u32,
    nva_first_page: u32,
    pages: u32,
}

#[derive(Serialize)]
struct MappingDump {
    /// TX: physical page; RX: NVA page.
    from_page: u32,
    /// TX: NVA page; RX: physical page.
    to_page: u32,
    writable: bool,
    signal: bool,
    counter_slot: u32,
    epoch: u8,
}

fn mapping((from_page, m): (u32, Mapping)) -> MappingDump {
    MappingDump {
        from_page,
        to_page: m.page,
        writable: m.attr.writable,
        signal: m.attr.signal,
        counter_slot: m.attr.counter_slot,
        epoch: m.attr.epoch,
    }
}

pub fn write<F: Fabric + Switch>(
    dir: &Path,
    s: &Scenario,
    ch: &mut Channels<F>,
    ids: &[ChannelId],
) -> Result<(), RunError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| RunError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (n, node) in s.nodes.iter().enumerate() {
        let size = ch.driver.fabric().mem_size(n);
        let mut mem = vec![0u8; size];
        ch.driver.fabric_mut().mem_read(n, 0, &mut mem);
        let image = dir.join(format!("{}.mem", node.name));
        std::fs::write(&image, &mem).map_err(io(&image))?;
        let segments = s
            .channels
            .iter()
            .zip(ids)
            .flat_map(|(c, &id)| {
                let (writes, reads) = (
                    c.writers.contains(&node.name),
                    c.readers.contains(&node.name),
                );
                let nva = ch.nva_pages(id).start;
                let seg = |r: std::ops::Range<u32>, writes, reads| SegmentDump {
                    channel: c.name.clone(),
                    writes,
                    reads,
                    start: r.start,
                    end: r.end,
                    nva_first_page: nva,
                    pages: (r.end - r.start) >> PAGE_SHIFT,
                };
                let rx = ch.segment_range(id, n);
                let tx = ch.tx_segment_range(id, n);
                match (rx, tx) {
                    // A writer that also reads sends from a segment of its own.
                    (Some(r), Some(t)) if r != t => vec![seg(r, false, true), seg(t, true, false)],
                    (Some(r), _) => vec![seg(r, writes, reads)],
                    _ => vec![],
                }
            })
            .collect();
        let d = NodeDump {
            node: node.name.clone(),
            id: n,
            memory_bytes: size,
            image: image.file_name().unwrap().to_string_lossy().into_owned(),
            segments,
            tx_mappings: ch
                .driver
                .mappings(n, Dir::Tx)
                .into_iter()
                .map(mapping)
                .collect(),
            rx_mappings: ch
                .driver
                .mappings(n, Dir::Rx)
                .into_iter()
                .map(mapping)
                .collect(),
        };
        let json = dir.join(format!("{}.json", node.name));
        let text = serde_json::to_string_pretty(&d).expect("plain data serializes");
        std::fs::write(&json, text + "\n").map_err(io(&json))?;
    }
    Ok(())
}
