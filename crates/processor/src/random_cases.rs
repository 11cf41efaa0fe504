//! How many cases the randomized differential tests run, and from which seed. By
//! default, the counts and seeds written in each test: about a second a test in a debug
//! build. For a longer campaign, `TRAWL_TEST_SCALE` multiplies the counts and
//! `TRAWL_TEST_SEED` replaces the seeds, for example
//! `TRAWL_TEST_SCALE=200 TRAWL_TEST_SEED=9 cargo test --release -p trawl-processor random`.

/// `cases`, times `TRAWL_TEST_SCALE` (at least 1) when it is set.
pub(crate) fn scaled(cases: usize) -> usize {
    let scale = from_env("TRAWL_TEST_SCALE").unwrap_or(1);
    assert!(scale >= 1, "TRAWL_TEST_SCALE is a factor of at least 1");
    cases * scale
}

/// A generator seeded with `TRAWL_TEST_SEED` when it is set, else with `seed`.
pub(crate) fn rng(seed: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(from_env("TRAWL_TEST_SEED").unwrap_or(seed))
}

/// The whole number in the environment variable `name`, if it is set.
fn from_env<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    let parsed = value.parse().ok();
    assert!(parsed.is_some(), "{name}={value:?} is not a whole number");
    parsed
}
