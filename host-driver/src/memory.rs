//! A node's physical memory in simulation: a heap buffer, or a file mapped with `memmap2` so
//! that other processes can map segments of the same bytes (the channel layer does).

use memmap2::MmapMut;
use std::fs::OpenOptions;
use std::io;
use std::ops::{Deref, DerefMut};
use std::path::Path;

/// The bytes a simulated card reads and writes (byte address = index).
pub enum Memory {
    Heap(Vec<u8>),
    /// A shared, writable mapping of a whole file.
    Mapped(MmapMut),
}

impl Memory {
    /// `bytes` of zeroed heap memory.
    pub fn zeroed(bytes: usize) -> Self {
        Memory::Heap(vec![0; bytes])
    }

    /// Maps the file at `path` shared and writable, creating it when missing and setting its
    /// length to `bytes` (new bytes read as zero). Writes by the card are visible to every
    /// other mapping of the file.
    pub fn map_file(path: &Path, bytes: usize) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        file.set_len(bytes as u64)?;
        // SAFETY: the mapping is only read and written as plain bytes; other processes that
        // map the same file may change them at any time, which is the point (shared memory),
        // and no Rust reference assumes they stay put across calls into the simulator.
        let map = unsafe { MmapMut::map_mut(&file)? };
        Ok(Memory::Mapped(map))
    }

    /// Writes a mapped memory back to its file (a heap memory has nothing to flush).
    pub fn flush(&self) -> io::Result<()> {
        match self {
            Memory::Heap(_) => Ok(()),
            Memory::Mapped(m) => m.flush(),
        }
    }
}

impl Deref for Memory {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Memory::Heap(v) => v,
            Memory::Mapped(m) => m,
        }
    }
}

impl DerefMut for Memory {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            Memory::Heap(v) => v,
            Memory::Mapped(m) => m,
        }
    }
}

impl AsRef<[u8]> for Memory {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for Memory {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Memory::Heap(_) => "Heap",
            Memory::Mapped(_) => "Mapped",
        };
        write!(f, "Memory::{kind}({} bytes)", self.len())
    }
}
