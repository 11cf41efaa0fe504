//! Host turns: how many requests each `host:port` has in flight, across all jobs and
//! fetchers. This is the one place `fetcher.per_host_concurrency` is enforced.

use std::collections::HashMap;

use trawl_core::fetch::HostKey;

/// Requests in flight per host.
#[derive(Debug, Default)]
pub(crate) struct HostTurns {
    in_flight: HashMap<HostKey, u32>,
}

impl HostTurns {
    /// How many more requests `host` may start under `limit`.
    pub(crate) fn room(&self, host: &HostKey, limit: u32) -> u32 {
        limit.saturating_sub(self.in_flight.get(host).copied().unwrap_or(0))
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
}
