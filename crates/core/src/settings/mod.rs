//! Service settings: one struct per section of `configs/default.toml`, layered from
//! built-in defaults, a TOML file and `TRAWL__<SECTION>__<KEY>` environment variables.
//!
//! Durations (`*_ms` keys, `max_retry_after`) accept an integer of milliseconds or a
//! human form (`"10s"`); sizes (`*_bytes`) accept an integer of bytes or `"8MiB"`.

mod human;
mod load;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use load::{load, SettingsError};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[api]`: the admin HTTP API.
    pub api: ApiSettings,
    /// `[fetcher]`: fetcher actors and HTTP limits.
    pub fetcher: FetcherSettings,
    /// `[processor]`: response processing.
    pub processor: ProcessorSettings,
    /// `[store]`: where jobs and records live.
    pub store: StoreSettings,
    /// `[cluster]`: scale-out over NATS (not built yet; empty = local mode).
    pub cluster: ClusterSettings,
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Listen address.
    pub bind: String,
    /// Accepted bearer keys; empty = no authentication.
    pub api_keys: Vec<String>,
    /// Allow binding beyond loopback without API keys.
    pub allow_unauthenticated: bool,
    /// Largest batch accepted, in URLs.
    pub max_batch_urls: u64,
    /// Largest request body accepted.
    #[serde(with = "human::bytes")]
    pub max_body_bytes: u64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            bind: "127.0.0.1:8080".into(),
            api_keys: Vec::new(),
            allow_unauthenticated: false,
            max_batch_urls: 1_000_000,
            max_body_bytes: 128 * 1024 * 1024,
        }
    }
}

impl ApiSettings {
    /// The bearer keys, without empty entries (an empty environment list is `[""]`).
    pub fn keys(&self) -> Vec<String> {
        self.api_keys
            .iter()
            .filter(|k| !k.is_empty())
            .cloned()
            .collect()
    }
}

/// `[fetcher]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetcherSettings {
    /// Fetcher actors, each on its own thread.
    pub actors: usize,
    /// Requests in flight per fetcher actor.
    pub concurrency: usize,
    /// Requests in flight per `host:port`, across all fetchers.
    pub per_host_concurrency: u32,
    /// Requests per second per `host:port`; 0 = unlimited.
    pub per_host_rps: u32,
    /// Total deadline of one attempt: connect, every hop's headers and the body.
    #[serde(with = "human::millis")]
    pub timeout_ms: u64,
    /// Deadline for opening a connection, and for looking up a host name.
    #[serde(with = "human::millis")]
    pub connect_timeout_ms: u64,
    /// Largest decoded body read.
    #[serde(with = "human::bytes")]
    pub max_body_bytes: u64,
    /// Redirects followed; 0 = a 3xx is the result.
    pub max_redirects: u32,
    /// Extra attempts after a retryable failure.
    pub retries: u32,
    /// First retry's backoff ceiling (full jitter).
    #[serde(with = "human::millis")]
    pub backoff_base_ms: u64,
    /// Largest backoff.
    #[serde(with = "human::millis")]
    pub backoff_max_ms: u64,
    /// Longest Retry-After honoured; a longer one ends the URL with its status.
    #[serde(with = "human::millis")]
    pub max_retry_after: u64,
    /// Sent with every request unless a job sets its own.
    pub user_agent: String,
    /// Allow loopback, private, link-local and other special addresses.
    pub allow_private_networks: bool,
    /// Exceptions to the private-network block: `IP`, `IP:PORT` or CIDR.
    pub allow_addresses: Vec<String>,
    /// On shutdown, how long in-flight requests may take to finish.
    #[serde(with = "human::millis")]
    pub shutdown_grace_ms: u64,
}

impl Default for FetcherSettings {
    fn default() -> Self {
        FetcherSettings {
            actors: 2,
            concurrency: 256,
            per_host_concurrency: 8,
            per_host_rps: 0,
            timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            retries: 2,
            backoff_base_ms: 250,
            backoff_max_ms: 10_000,
            max_retry_after: 60_000,
            user_agent: concat!("trawl/", env!("CARGO_PKG_VERSION")).into(),
            allow_private_networks: false,
            allow_addresses: Vec::new(),
            shutdown_grace_ms: 10_000,
        }
    }
}

impl FetcherSettings {
    /// [`Self::timeout_ms`] as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// [`Self::connect_timeout_ms`] as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// Tasks a fetcher holds beyond [`Self::concurrency`], a quarter of it (at least
    /// one): they wait in the fetcher, and one starts the moment a request ends instead
    /// of after a round trip through the coordinator.
    pub fn queued_tasks(&self) -> usize {
        self.concurrency.div_ceil(4)
    }

    /// Tasks the coordinator may assign to one fetcher at a time: its requests in
    /// flight and [`Self::queued_tasks`].
    pub fn assignable_tasks(&self) -> usize {
        self.concurrency + self.queued_tasks()
    }

    /// [`Self::shutdown_grace_ms`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }

    /// The allow-list entries, without empty ones.
    pub fn allowed_addresses(&self) -> impl Iterator<Item = &str> {
        self.allow_addresses
            .iter()
            .map(String::as_str)
            .filter(|a| !a.is_empty())
    }
}

/// `[processor]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessorSettings {
    /// Processor threads.
    pub actors: usize,
    /// Largest raw body kept in a record when a job asks for `body`.
    #[serde(with = "human::bytes")]
    pub max_stored_body_bytes: u64,
    /// Largest visible text kept in a record when a job asks for `text`.
    #[serde(with = "human::bytes")]
    pub max_text_bytes: u64,
}

impl Default for ProcessorSettings {
    fn default() -> Self {
        ProcessorSettings {
            actors: 2,
            max_stored_body_bytes: 1024 * 1024,
            max_text_bytes: 64 * 1024,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Where jobs and records live: `sqlite://PATH` (relative or absolute).
    pub url: String,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: "sqlite://data/trawl.db".into(),
        }
    }
}

impl StoreSettings {
    /// The SQLite file named by [`Self::url`], or `None` when it is not `sqlite://`.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let path = self.url.strip_prefix("sqlite://")?;
        (!path.is_empty()).then(|| PathBuf::from(path))
    }
}

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// The NATS server of a cluster; empty = local mode. Cluster mode is not built yet.
    pub nats_url: String,
}

impl Settings {
    /// Every problem with these settings, each naming its key. Empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut at_least = |key: &str, value: u64, min: u64| {
            if value < min {
                problems.push(format!("{key} must be at least {min}, got {value}"));
            }
        };
        at_least("fetcher.actors", self.fetcher.actors as u64, 1);
        at_least("fetcher.concurrency", self.fetcher.concurrency as u64, 1);
        at_least(
            "fetcher.per_host_concurrency",
            self.fetcher.per_host_concurrency.into(),
            1,
        );
        at_least("fetcher.timeout_ms", self.fetcher.timeout_ms, 1);
        at_least(
            "fetcher.connect_timeout_ms",
            self.fetcher.connect_timeout_ms,
            1,
        );
        at_least("fetcher.max_body_bytes", self.fetcher.max_body_bytes, 1);
        at_least("processor.actors", self.processor.actors as u64, 1);
        at_least("api.max_batch_urls", self.api.max_batch_urls, 1);
        at_least("api.max_body_bytes", self.api.max_body_bytes, 1);

        match self.api.bind.parse::<SocketAddr>() {
            Err(_) => problems.push(format!(
                "api.bind must be an IP:PORT address such as 127.0.0.1:8080, got {:?}",
                self.api.bind
            )),
            Ok(addr)
                if !addr.ip().is_loopback()
                    && self.api.keys().is_empty()
                    && !self.api.allow_unauthenticated =>
            {
                problems.push(format!(
                    "api.bind {addr} is beyond loopback and api.api_keys is empty: set api keys, \
                     or api.allow_unauthenticated = true to serve without them"
                ))
            }
            Ok(_) => {}
        }
        if self.fetcher.backoff_max_ms < self.fetcher.backoff_base_ms {
            problems.push(format!(
                "fetcher.backoff_max_ms ({}) must not be below fetcher.backoff_base_ms ({})",
                self.fetcher.backoff_max_ms, self.fetcher.backoff_base_ms
            ));
        }
        for entry in self.fetcher.allowed_addresses() {
            if !is_address_pattern(entry) {
                problems.push(format!(
                    "fetcher.allow_addresses entry {entry:?} is not an IP, IP:PORT or CIDR"
                ));
            }
        }
        if self.store.sqlite_path().is_none() {
            problems.push(format!(
                "store.url must be sqlite://PATH (the only backend so far), got {:?}",
                self.store.url
            ));
        }
        if !self.cluster.nats_url.is_empty() {
            problems.push(
                "cluster.nats_url is set, but cluster mode is not built yet: leave it empty".into(),
            );
        }
        problems
    }

    /// The bind address; call after [`Self::problems`] came back empty.
    pub fn bind_addr(&self) -> SocketAddr {
        self.api.bind.parse().expect("api.bind was validated")
    }

    /// The effective configuration as TOML, as `trawl config` prints it.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("settings always serialize to TOML")
    }
}

/// Whether `entry` reads as `IP`, `IP:PORT`, `[IPv6]:PORT` or `IP/PREFIX`.
fn is_address_pattern(entry: &str) -> bool {
    use std::net::IpAddr;
    if let Some((ip, prefix)) = entry.split_once('/') {
        let Ok(ip) = ip.parse::<IpAddr>() else {
            return false;
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        return prefix.parse::<u8>().is_ok_and(|p| p <= max);
    }
    entry.parse::<IpAddr>().is_ok() || entry.parse::<SocketAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Settings::default().problems(), Vec::<String>::new());
    }

    #[test]
    fn problems_name_every_bad_key() {
        let mut settings = Settings::default();
        settings.fetcher.actors = 0;
        settings.processor.actors = 0;
        settings.api.bind = "0.0.0.0:80".into();
        let problems = settings.problems().join("\n");
        assert!(problems.contains("fetcher.actors"), "{problems}");
        assert!(problems.contains("processor.actors"), "{problems}");
        assert!(problems.contains("api.bind"), "{problems}");
    }

    #[test]
    fn address_patterns() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "10.0.0.0/8",
            "::1",
            "[::1]:80",
            "fe80::/10",
        ] {
            assert!(is_address_pattern(ok), "{ok}");
        }
        for bad in ["localhost", "10.0.0.0/33", "1.2.3", ""] {
            assert!(!is_address_pattern(bad), "{bad}");
        }
    }
}
