//! Pack files and index objects as the store reads them. The input is tried as:
//! - a whole pack (`Store::header_from_pack`): the trailer's header length (`sealed_header_len`),
//!   the sealed header before it opened by the codec and parsed (`parse_header`), then every chunk
//!   the header lists sliced out of the pack and opened against its id (`Codec::open_chunk`);
//! - an index object (`Store::read_index`): opened by the codec, then parsed;
//! - a pack header's plaintext JSON (`parse_header`);
//! - arbitrary bytes at rest for `Codec::open`, plain and encrypted.
//! Nothing may panic. Also: what a codec seals, it opens to the same bytes.

#![no_main]

use coffer::{
    fuzzing::{PackHeader, TRAILER_LEN, pack_parse_header, pack_sealed_header_len},
    store::{codec::Codec, manifest::keys},
};
use libfuzzer_sys::fuzz_target;

/// The chunk id key of the repository the seed corpus was taken from (a plain one), so that seed
/// chunks match their ids.
const SEED_ID_KEY: [u8; 32] = [
    0xd4, 0x8a, 0x76, 0x4a, 0xcf, 0x2f, 0xca, 0xe1, 0x05, 0x94, 0xe4, 0x71, 0x5e, 0xdb, 0xca, 0xa6, 0x91, 0x03, 0x7c, 0x23, 0x05, 0x2e,
    0x8f, 0xee, 0xdb, 0xe8, 0x11, 0x4e, 0xf9, 0xe5, 0x3f, 0x51,
];

fn use_header(codec: &Codec, header: &PackHeader, pack: Option<&[u8]>) {
    // The header's pack name becomes the pack's key (verify and garbage collection read it so).
    let _ = (keys::pack(&header.pack), keys::index(&header.pack));
    for e in &header.entries {
        let Some(bytes) = pack else { continue };
        let end = e.offset.checked_add(u64::from(e.len));
        if let Some(stored) = end.and_then(|end| bytes.get(usize::try_from(e.offset).ok()?..usize::try_from(end).ok()?)) {
            let _ = codec.open_chunk(&e.id, stored);
        }
    }
}

fn as_pack(codec: &Codec, data: &[u8]) {
    let size = data.len() as u64;
    if size < TRAILER_LEN {
        return;
    }
    let Ok(len) = pack_sealed_header_len(&data[(size - TRAILER_LEN) as usize..]) else { return };
    let Some(start) = (size - TRAILER_LEN).checked_sub(len) else { return };
    let sealed = &data[start as usize..(size - TRAILER_LEN) as usize];
    if let Ok(plain) = codec.open(sealed)
        && let Ok(header) = pack_parse_header(&plain)
    {
        use_header(codec, &header, Some(&data[..start as usize]));
    }
}

fuzz_target!(|data: &[u8]| {
    let plain = Codec::new(SEED_ID_KEY, None);
    let encrypted = Codec::new(SEED_ID_KEY, Some([9; 32]));
    for codec in [&plain, &encrypted] {
        as_pack(codec, data);
        if let Ok(opened) = codec.open(data)
            && let Ok(header) = pack_parse_header(&opened)
        {
            use_header(codec, &header, None);
        }
    }
    if let Ok(header) = pack_parse_header(data) {
        use_header(&plain, &header, None);
    }
    let _ = pack_sealed_header_len(data);
    if data.len() <= 4096 {
        for codec in [&plain, &encrypted] {
            assert_eq!(codec.open(&codec.seal(data)).expect("a sealed object opens"), data);
        }
    }
});
