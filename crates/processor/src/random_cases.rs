//! How many cases the randomized differential tests run, and from which seed. The
//! counts and seeds written in each test by default, about a second a test in a debug
//! build; for a longer campaign, `TRAWL_TEST_SCALE` multiplies the counts and
//! `TRAWL_TEST_SEED` replaces the seeds, for example
//! `TRAWL_TEST_SCALE=200 TRAWL_TEST_SEED=9 cargo test --release -p trawl-processor random`.

/// `cases`, times `TRAWL_TEST_SCALE` when it is set.
pub(crate) fn scaled(cases: usize) -> usize {
    cases * from_env("TRAWL_TEST_SCALE").unwrap_or(1)
}

/// A generator seeded with `TRAWL_TEST_SEED` when it is set, else with `seed`.
pub(crate) fn rng(seed: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(from_env("TRAWL_TEST_SEED").unwrap_or(seed))
}

fn from_env<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    let parsed = value.parse().ok();
    assert!(parsed.is_some(), "{name}={value:?} is not a whole number");
    parsed
}
