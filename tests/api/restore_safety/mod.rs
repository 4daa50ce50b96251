//! A restore touches only what it was asked to restore, on every path: random sequences of
//! changes, backups and restores through every dialect, each restore checked against a model of
//! what it may change. `COFFER_PROPERTY_STEPS` and `COFFER_PROPERTY_SEED` size and repeat a run
//! (the seed is printed); `scripts/restore-property.sh` runs them larger.

mod clusters;
mod databases;
mod trees;

/// How many random steps a run takes.
fn steps() -> usize {
    std::env::var("COFFER_PROPERTY_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(14)
}

/// The run's seed: `COFFER_PROPERTY_SEED`, or a new one, printed so a failure can be repeated.
fn seed(what: &str) -> u64 {
    let seed: u64 = std::env::var("COFFER_PROPERTY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("restore safety ({what}): seed {seed} (COFFER_PROPERTY_SEED={seed} repeats this run), {} steps", steps());
    seed
}
