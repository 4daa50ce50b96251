//! How a chunk (or any stored object) is turned into bytes at rest and back: zstd compression when
//! it pays, then optional XChaCha20-Poly1305 encryption. Chunk ids are keyed BLAKE3 hashes of the
//! plaintext, so they reveal nothing without the repository's key.

use std::fmt;

use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit},
};

use super::StoreError;

/// Compression level: fast, since throughput matters more than the last percent of size.
const ZSTD_LEVEL: i32 = 1;
const FLAG_ZSTD: u8 = 1;
const NONCE_LEN: usize = 24;

/// A chunk id: the keyed BLAKE3 hash of its plaintext.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkId(pub [u8; 32]);

impl ChunkId {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self, StoreError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| StoreError::Format(format!("bad chunk id '{s}'")))?;
        Ok(ChunkId(out))
    }
}

impl fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..16])
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for ChunkId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for ChunkId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ChunkId::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// The repository's keys: one for chunk ids, and one for encryption when the repository is encrypted.
#[derive(Clone)]
pub struct Codec {
    id_key: [u8; 32],
    cipher: Option<XChaCha20Poly1305>,
}

impl Codec {
    pub fn new(id_key: [u8; 32], encryption_key: Option<[u8; 32]>) -> Self {
        Self { id_key, cipher: encryption_key.map(|k| XChaCha20Poly1305::new(&k.into())) }
    }

    pub fn encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    /// The id of a chunk with this plaintext.
    pub fn chunk_id(&self, plaintext: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.id_key, plaintext).as_bytes())
    }

    /// Plaintext to bytes at rest.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut framed = Vec::with_capacity(plaintext.len() / 2 + 16);
        match zstd::bulk::compress(plaintext, ZSTD_LEVEL) {
            Ok(compressed) if compressed.len() + 8 < plaintext.len() => {
                framed.push(FLAG_ZSTD);
                framed.extend_from_slice(&(plaintext.len() as u64).to_le_bytes());
                framed.extend_from_slice(&compressed);
            }
            _ => {
                framed.push(0);
                framed.extend_from_slice(plaintext);
            }
        }
        match &self.cipher {
            None => framed,
            Some(cipher) => {
                let nonce_bytes: [u8; NONCE_LEN] = rand::random();
                let nonce = XNonce::from(nonce_bytes);
                let mut out = nonce_bytes.to_vec();
                out.extend(cipher.encrypt(&nonce, framed.as_slice()).expect("encryption of an in-memory buffer"));
                out
            }
        }
    }

    /// Bytes at rest back to plaintext; any tampering or damage is an error, never a panic.
    pub fn open(&self, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        let framed;
        let framed_ref: &[u8] = match &self.cipher {
            None => stored,
            Some(cipher) => {
                if stored.len() < NONCE_LEN {
                    return Err(StoreError::Corrupt("object shorter than its nonce".into()));
                }
                let (nonce, body) = stored.split_at(NONCE_LEN);
                let nonce = XNonce::try_from(nonce).map_err(|_| StoreError::Corrupt("bad nonce".into()))?;
                framed = cipher
                    .decrypt(&nonce, body)
                    .map_err(|_| StoreError::Corrupt("authentication failed (damaged data or wrong key)".into()))?;
                &framed
            }
        };
        let (&flag, rest) = framed_ref.split_first().ok_or_else(|| StoreError::Corrupt("empty object".into()))?;
        match flag {
            0 => Ok(rest.to_vec()),
            FLAG_ZSTD => {
                if rest.len() < 8 {
                    return Err(StoreError::Corrupt("truncated compressed object".into()));
                }
                let (len, body) = rest.split_at(8);
                let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
                if len > 1 << 30 {
                    return Err(StoreError::Corrupt("implausible decompressed size".into()));
                }
                let out = zstd::bulk::decompress(body, len).map_err(|e| StoreError::Corrupt(format!("decompression failed: {e}")))?;
                if out.len() != len {
                    return Err(StoreError::Corrupt("decompressed size differs from the recorded one".into()));
                }
                Ok(out)
            }
            other => Err(StoreError::Corrupt(format!("unknown object flag {other}"))),
        }
    }

    /// Opens a chunk and checks that its plaintext hashes to `id`.
    pub fn open_chunk(&self, id: &ChunkId, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        let plain = self.open(stored).map_err(|e| StoreError::CorruptChunk { chunk: id.to_hex(), reason: e.to_string() })?;
        if self.chunk_id(&plain) != *id {
            return Err(StoreError::CorruptChunk { chunk: id.to_hex(), reason: "content does not match its hash".into() });
        }
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codecs() -> [Codec; 2] {
        [Codec::new([1; 32], None), Codec::new([1; 32], Some([9; 32]))]
    }

    #[test]
    fn sealed_data_opens_to_the_same_bytes_compressible_or_not() {
        let text = b"all work and no play ".repeat(1000);
        let random: Vec<u8> = (0..10_000).map(|_| rand::random::<u8>()).collect();
        for codec in codecs() {
            for data in [&text[..], &random[..], b""] {
                let sealed = codec.seal(data);
                assert_eq!(codec.open(&sealed).unwrap(), data);
            }
            assert!(codec.seal(&text).len() < text.len() / 10, "text compresses");
        }
    }

    #[test]
    fn a_flipped_byte_is_reported_as_corruption() {
        for codec in codecs() {
            let data = b"some chunk content".repeat(50);
            let id = codec.chunk_id(&data);
            let mut sealed = codec.seal(&data);
            let last = sealed.len() - 1;
            sealed[last] ^= 0x40;
            assert!(matches!(codec.open_chunk(&id, &sealed), Err(StoreError::CorruptChunk { .. })));
        }
    }

    #[test]
    fn the_wrong_key_cannot_open_encrypted_data() {
        let sealed = Codec::new([1; 32], Some([9; 32])).seal(b"secret");
        assert!(Codec::new([1; 32], Some([8; 32])).open(&sealed).is_err());
    }

    #[test]
    fn chunk_ids_depend_on_the_repository_key() {
        assert_ne!(Codec::new([1; 32], None).chunk_id(b"x"), Codec::new([2; 32], None).chunk_id(b"x"));
    }
}
