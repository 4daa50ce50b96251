//! Pack files: many sealed chunks in one object, so small chunks do not become small objects. A
//! pack ends with its sealed header (which chunk sits where), the header length and a magic; the
//! same header is written beside it as the pack's index object.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec::ChunkId};

/// A pack is closed once it holds this many bytes.
pub const TARGET_PACK_SIZE: usize = 16 << 20;
const MAGIC: &[u8; 4] = b"CPK1";

/// Where one chunk sits inside a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackEntry {
    pub id: ChunkId,
    pub offset: u64,
    /// Stored (sealed) length.
    pub len: u32,
    /// Plaintext length.
    pub raw_len: u32,
}

/// The header of a pack, also stored as `index/<pack>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackHeader {
    pub pack: String,
    pub created_at: DateTime<Utc>,
    pub entries: Vec<PackEntry>,
}

/// Accumulates sealed chunks until the pack is full.
#[derive(Default)]
pub struct PackBuilder {
    buf: Vec<u8>,
    entries: Vec<PackEntry>,
}

/// A closed pack, ready to upload.
pub struct FinishedPack {
    pub id: String,
    pub bytes: Vec<u8>,
    pub header: PackHeader,
    /// The sealed header, stored as the index object.
    pub sealed_header: Vec<u8>,
}

impl PackBuilder {
    pub fn add(&mut self, id: ChunkId, sealed: &[u8], raw_len: usize) {
        self.entries.push(PackEntry { id, offset: self.buf.len() as u64, len: sealed.len() as u32, raw_len: raw_len as u32 });
        self.buf.extend_from_slice(sealed);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.buf.len() >= TARGET_PACK_SIZE
    }

    /// Closes the pack: appends the sealed header, its length and the magic.
    pub fn finish(self, seal: impl Fn(&[u8]) -> Vec<u8>) -> FinishedPack {
        let id = blake3::hash(&self.buf).to_hex().to_string();
        let header = PackHeader { pack: id.clone(), created_at: Utc::now(), entries: self.entries };
        let sealed_header = seal(&serde_json::to_vec(&header).expect("a header serialises"));
        let mut bytes = self.buf;
        bytes.extend_from_slice(&sealed_header);
        bytes.extend_from_slice(&(sealed_header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(MAGIC);
        FinishedPack { id, bytes, header, sealed_header }
    }
}

/// Bytes at the end of a pack after its sealed header: the header's length and the magic.
pub const TRAILER_LEN: u64 = 8;

/// The length of the sealed header a pack's last [`TRAILER_LEN`] bytes announce.
pub fn sealed_header_len(trailer: &[u8]) -> Result<u64, StoreError> {
    match trailer {
        [a, b, c, d, magic @ ..] if magic == MAGIC => Ok(u64::from(u32::from_le_bytes([*a, *b, *c, *d]))),
        _ => Err(StoreError::Corrupt("pack trailer: no magic".into())),
    }
}

/// Decodes a pack header; an entry whose end lies beyond what a pack can hold is corruption, so
/// every `offset + len` computed from a parsed header is in range.
pub fn parse_header(plain: &[u8]) -> Result<PackHeader, StoreError> {
    let header: PackHeader = serde_json::from_slice(plain).map_err(|e| StoreError::Corrupt(format!("pack header: {e}")))?;
    if let Some(e) = header.entries.iter().find(|e| e.offset.checked_add(u64::from(e.len)).is_none_or(|end| end > MAX_PACK_BYTES)) {
        return Err(StoreError::Corrupt(format!(
            "pack header {}: chunk {} ends beyond any pack ({} + {})",
            header.pack,
            e.id.to_hex(),
            e.offset,
            e.len
        )));
    }
    Ok(header)
}

/// No pack is this large: a pack closes at [`TARGET_PACK_SIZE`] plus one chunk.
const MAX_PACK_BYTES: u64 = 1 << 40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_whose_entry_ends_past_the_largest_offset_is_corrupt_not_a_panic_later() {
        let entry = |offset: u64| PackEntry { id: ChunkId([7; 32]), offset, len: 10, raw_len: 10 };
        let header =
            |offset| serde_json::to_vec(&PackHeader { pack: "p".into(), created_at: Utc::now(), entries: vec![entry(offset)] }).unwrap();
        assert!(parse_header(&header(5)).is_ok());
        assert!(matches!(parse_header(&header(u64::MAX - 3)), Err(StoreError::Corrupt(m)) if m.contains("ends beyond")));
        assert!(matches!(parse_header(&header(MAX_PACK_BYTES)), Err(StoreError::Corrupt(_))));
    }
}
