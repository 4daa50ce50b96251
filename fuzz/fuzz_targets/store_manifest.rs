//! A snapshot manifest as the store reads it (`Store::manifest`): the object's bytes opened by the
//! codec, then decoded as JSON into a `Manifest`. The input is tried three ways: as the plaintext
//! JSON, as the object stored in a plain repository, and as the object of an encrypted one.
//! Nothing may panic; a manifest that decodes must walk, re-encode and decode to the same JSON.

#![no_main]

use coffer::store::{
    Manifest,
    codec::Codec,
    manifest::{EntryKind, keys},
};
use libfuzzer_sys::fuzz_target;

/// The chunk id key of the repository the seed corpus was taken from (a plain one), so that seed
/// chunks match their ids.
const SEED_ID_KEY: [u8; 32] = [
    0xd4, 0x8a, 0x76, 0x4a, 0xcf, 0x2f, 0xca, 0xe1, 0x05, 0x94, 0xe4, 0x71, 0x5e, 0xdb, 0xca, 0xa6, 0x91, 0x03, 0x7c, 0x23, 0x05, 0x2e,
    0x8f, 0xee, 0xdb, 0xe8, 0x11, 0x4e, 0xf9, 0xe5, 0x3f, 0x51,
];

fn decode(plain: &[u8]) {
    let Ok(manifest) = serde_json::from_slice::<Manifest>(plain) else { return };
    // What verify, restore and garbage collection do with a manifest they read.
    let _ = manifest.chunk_ids().count();
    for entry in &manifest.entries {
        let stored: u64 = entry.chunks.iter().map(|c| u64::from(c.len)).sum();
        let _ = (entry.kind == EntryKind::File && stored != entry.size, entry.path.split('/').count(), &entry.target);
    }
    let _ = keys::manifest(&manifest.snapshot, &manifest.node);
    // A manifest read back after a write is the same manifest. `metadata` is opaque JSON and left
    // out: serde_json's default float parser is not correctly rounded, so a float in it can move by
    // one ulp through a write and read (fuzz/regressions/store_manifest/README.md).
    let again = serde_json::to_vec(&manifest).expect("a decoded manifest encodes");
    let back: Manifest = serde_json::from_slice(&again).expect("a re-encoded manifest decodes");
    assert_eq!(
        (&back.snapshot, &back.node, back.created_at, &back.parent, &back.entries, &back.errors, &back.totals, back.version),
        (
            &manifest.snapshot,
            &manifest.node,
            manifest.created_at,
            &manifest.parent,
            &manifest.entries,
            &manifest.errors,
            &manifest.totals,
            manifest.version
        ),
        "a manifest changes through a write and read"
    );
}

fuzz_target!(|data: &[u8]| {
    decode(data);
    if let Ok(opened) = Codec::new(SEED_ID_KEY, None).open(data) {
        decode(&opened);
    }
    if let Ok(opened) = Codec::new(SEED_ID_KEY, Some([9; 32])).open(data) {
        decode(&opened);
    }
});
