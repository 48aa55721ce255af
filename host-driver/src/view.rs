//! A channel's segment as another process sees it: the node's memory file mapped read-only
//! at the segment's offset, read with the same lock-free cursors as the in-process reader.
//!
//! The simulator maps each node's memory from a file ([`crate::Memory::map_file`]); a reader
//! node's segment is where the card writes arriving messages. [`crate::channel::Channels::segment`]
//! says where it lies ([`SegmentInfo`], serde-serializable so it can be handed to the other
//! process as TOML or JSON), and [`SegmentView::open`] maps just those bytes.

use crate::channel::{Kind, ReaderStats};
use crate::segment::{poll_regions, Delivery, Layout, LayoutError, ReaderCursor, RegionLook};
use memmap2::{Mmap, MmapOptions};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use vassa_spec::params::PAGE_SIZE;

/// Where one node's copy of a channel's segment lies in its memory, and how it is laid out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// The channel's index ([`crate::channel::ChannelId`]).
    pub channel: usize,
    pub kind: Kind,
    /// The node whose memory holds this copy.
    pub node: usize,
    /// Physical address of the segment in the node's memory, i.e. the byte offset in its
    /// memory file (a multiple of the 4 KiB page).
    pub offset: u64,
    /// Bytes of the segment (whole pages).
    pub bytes: u32,
    /// First NVA page of the channel (`bytes / 4096` pages in all).
    pub nva_page: u32,
    pub layout: Layout,
    /// One region per writer, in the layout's order.
    pub regions: Vec<RegionInfo>,
    pub readers: Vec<usize>,
}

/// One writer's region of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionInfo {
    pub writer: usize,
    /// Byte offset in the segment.
    pub offset: u32,
    pub bytes: u32,
}

/// Why a segment cannot be mapped.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("segment offset {0:#x} is not on a 4 KiB page")]
    Unaligned(u64),
    #[error("{path}: the file has {len} bytes, the segment ends at byte {end}")]
    Short { path: PathBuf, len: u64, end: u64 },
    #[error("segment layout {layout:?} does not match its {bytes} bytes and {regions} region(s)")]
    BadLayout {
        layout: Layout,
        bytes: u32,
        regions: usize,
    },
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// A read-only mapping of one node's copy of a channel segment, with a reader's cursors.
pub struct SegmentView {
    info: SegmentInfo,
    map: Mmap,
    cursors: Vec<ReaderCursor>,
}

impl SegmentView {
    /// Maps `info.bytes` bytes at `info.offset` of the memory file at `path` (the file of node
    /// `info.node`), checking first that the file is long enough — touching a mapping past
    /// the end of a file kills the process with SIGBUS.
    pub fn open(path: &Path, info: SegmentInfo) -> Result<Self, ViewError> {
        let io_err = |source| ViewError::Io {
            path: path.to_path_buf(),
            source,
        };
        if !info.offset.is_multiple_of(PAGE_SIZE as u64) {
            return Err(ViewError::Unaligned(info.offset));
        }
        // The layout is recomputed rather than trusted: a bad one would read out of bounds.
        let l = info.layout;
        if l.regions as usize != info.regions.len()
            || Layout::with_slot(info.bytes, l.regions, l.slot_bytes)? != l
        {
            return Err(ViewError::BadLayout {
                layout: l,
                bytes: info.bytes,
                regions: info.regions.len(),
            });
        }
        let file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let end = info.offset + info.bytes as u64;
        if len < end {
            return Err(ViewError::Short {
                path: path.to_path_buf(),
                len,
                end,
            });
        }
        // SAFETY: the mapping lies inside the file (checked above) and is only read through
        // raw pointers with volatile loads (see `read`), never as a Rust reference, since the
        // simulator writes the same bytes at any time. Another process truncating the file
        // would make reads fault; the simulator never does.
        let map = unsafe {
            MmapOptions::new()
                .offset(info.offset)
                .len(info.bytes as usize)
                .map(&file)
        }
        .map_err(io_err)?;
        Ok(SegmentView {
            cursors: vec![ReaderCursor::new(); info.regions.len()],
            info,
            map,
        })
    }

    pub fn info(&self) -> &SegmentInfo {
        &self.info
    }

    /// The next complete message from any writer, with the writer's node, if one has arrived;
    /// a writer that lapped this reader shows as a [`Delivery::gap`]. This reader cannot know
    /// whether packets are still in flight, so a message lost on the way is skipped only when
    /// the writer laps its slot.
    pub fn try_recv(&mut self) -> Option<(usize, Delivery)> {
        let SegmentView { info, map, cursors } = self;
        let base = map.as_ptr();
        let mut read = |at: u32, buf: &mut [u8]| {
            // In bounds: the layout was checked against the mapping's length in `open`.
            debug_assert!(at as usize + buf.len() <= map.len());
            for (i, b) in buf.iter_mut().enumerate() {
                // SAFETY: inside the mapping (above); volatile because another process (the
                // simulator) changes these bytes behind the compiler's back.
                *b = unsafe { std::ptr::read_volatile(base.add(at as usize + i)) };
            }
        };
        match poll_regions(cursors, info.layout, &mut read) {
            RegionLook::Message(region, d) => Some((info.regions[region].writer, d)),
            // Stalled: a newer message is there, but this process cannot ask the card whether
            // the missing one is still parked, so it waits for the writer to lap it.
            RegionLook::Stalled(_) | RegionLook::Nothing => None,
        }
    }

    /// What this view has read so far.
    pub fn stats(&self) -> ReaderStats {
        ReaderStats::of(&self.cursors)
    }
}
