//! Host turns: how many requests each `host:port` has in flight across all jobs and
//! fetchers, which hosts asked for a pause (Retry-After), and their request rates. This
//! is the one place `fetcher.per_host_concurrency` and `fetcher.per_host_rps` are
//! enforced.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Instant;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use trawl_core::fetch::HostKey;

/// The per-host state of dispatch.
#[derive(Default)]
pub(crate) struct HostTurns {
    in_flight: HashMap<HostKey, u32>,
    paused_until: HashMap<HostKey, Instant>,
    /// One keyed token bucket per distinct rate in use (the server's, and any lower
    /// rate a job asked for), keyed by host.
    rates: HashMap<NonZeroU32, DefaultKeyedRateLimiter<HostKey>>,
}

impl HostTurns {
    /// How many more requests `host` may start under `limit` now (0 while paused).
    pub(crate) fn room(&mut self, host: &HostKey, limit: u32, now: Instant) -> u32 {
        if let Some(until) = self.paused_until.get(host) {
            if *until > now {
                return 0;
            }
            self.paused_until.remove(host);
        }
        limit.saturating_sub(self.in_flight.get(host).copied().unwrap_or(0))
    }

    /// Takes a token of `host`'s bucket at each of `rates` (requests per second), or
    /// none when any bucket is empty.
    pub(crate) fn admit(&mut self, host: &HostKey, rates: &[NonZeroU32]) -> bool {
        rates.iter().all(|rate| {
            self.rates
                .entry(*rate)
                .or_insert_with(|| RateLimiter::keyed(Quota::per_second(*rate)))
                .check_key(host)
                .is_ok()
        })
    }

    /// A request to `host` started.
    pub(crate) fn take(&mut self, host: &HostKey) {
        *self.in_flight.entry(host.clone()).or_default() += 1;
    }

    /// A request to `host` ended.
    pub(crate) fn release(&mut self, host: &HostKey) {
        if let Some(count) = self.in_flight.get_mut(host) {
            *count -= 1;
            if *count == 0 {
                self.in_flight.remove(host);
            }
        }
    }

    /// No request may start to `host` before `until`.
    pub(crate) fn pause(&mut self, host: HostKey, until: Instant) {
        let entry = self.paused_until.entry(host).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// The earliest end of a pause still running at `now`; ended pauses are dropped.
    pub(crate) fn next_unpause(&mut self, now: Instant) -> Option<Instant> {
        self.paused_until.retain(|_, until| *until > now);
        self.paused_until.values().min().copied()
    }

    /// Forgets rate state of hosts not seen lately, so the buckets stay bounded.
    pub(crate) fn forget_idle(&mut self) {
        for limiter in self.rates.values() {
            limiter.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn turns_pauses_and_rates_per_host() {
        let mut turns = HostTurns::default();
        let (a, b): (HostKey, HostKey) = ("a:80".into(), "b:80".into());
        let now = Instant::now();
        turns.take(&a);
        turns.take(&a);
        assert_eq!(turns.room(&a, 3, now), 1);
        turns.release(&a);
        assert_eq!(turns.room(&a, 3, now), 2);

        turns.pause(b.clone(), now + Duration::from_secs(5));
        assert_eq!(turns.room(&b, 3, now), 0, "paused");
        assert_eq!(turns.next_unpause(now), Some(now + Duration::from_secs(5)));
        let later = now + Duration::from_secs(6);
        assert_eq!(
            turns.next_unpause(later),
            None,
            "an ended pause arms no timer"
        );
        assert_eq!(turns.room(&b, 3, later), 3);

        let rate = [NonZeroU32::new(2).unwrap()];
        assert!(turns.admit(&a, &rate) && turns.admit(&a, &rate));
        assert!(
            !turns.admit(&a, &rate),
            "the bucket of 2 per second is empty"
        );
        assert!(turns.admit(&b, &rate), "buckets are per host");
    }
}
