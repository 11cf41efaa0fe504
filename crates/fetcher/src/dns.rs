//! [`Resolver`]: host names looked up through the system resolver, remembered for a
//! while by each fetcher.
//!
//! Without it every request to a named host would call `getaddrinfo` on the blocking
//! pool: a million URLs on a few hosts would be a million lookups, each a thread
//! hand-off and often a round trip to a DNS server. Here a name is looked up once,
//! requests that need it meanwhile wait for that same lookup, and the answer is kept
//! for [`RESOLVED_TTL`] (a failure for [`FAILED_TTL`]). The SSRF guard checks every
//! address that comes out, and the connection is pinned to the checked one, so the
//! cache changes no policy; keeping one answer per name for a while also blunts DNS
//! rebinding. The cache lives on its fetcher's thread (no lock) and holds at most
//! [`MAX_NAMES`] names.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use trawl_core::metrics::Metrics;
use trawl_core::record::{ErrorKind, RecordError};

use crate::request::error;

/// How long a name's addresses are used before it is looked up again.
pub const RESOLVED_TTL: Duration = Duration::from_secs(60);

/// How long a failed lookup stands before the name is tried again: short, so that a
/// passing resolver fault costs few records, yet long enough that the URLs of a dead
/// host do not each wait for a lookup of their own.
pub const FAILED_TTL: Duration = Duration::from_secs(5);

/// Names remembered per fetcher, at most; past that, expired names are dropped, and
/// then all of them.
pub const MAX_NAMES: usize = 4096;

/// The addresses of a name, or why there are none.
type Answer = Result<Rc<[IpAddr]>, RecordError>;

/// A lookup in progress, awaited by every request that needs its name meanwhile.
type Lookup = Shared<LocalBoxFuture<'static, Answer>>;

/// What the cache holds for a name.
enum Entry {
    /// An answer, used until `until`.
    Answered { answer: Answer, until: Instant },
    /// A lookup started at `started`.
    Pending { lookup: Lookup, started: Instant },
}

/// A fetcher's cache of name lookups.
pub(crate) struct Resolver {
    names: RefCell<HashMap<String, Entry>>,
    /// The longest a lookup may take.
    timeout: Duration,
    /// [`RESOLVED_TTL`], shorter in tests.
    resolved_ttl: Duration,
    metrics: Arc<Metrics>,
}

impl Resolver {
    /// A resolver whose lookups give up after `timeout`, counting them in `metrics`.
    pub(crate) fn new(timeout: Duration, metrics: Arc<Metrics>) -> Resolver {
        Resolver {
            names: RefCell::new(HashMap::new()),
            timeout,
            resolved_ttl: RESOLVED_TTL,
            metrics,
        }
    }

    /// The addresses of `name` (a domain, not an IP literal), from the cache or from one
    /// lookup shared by every request that asks while it runs. The error is the
    /// record's `dns` error.
    pub(crate) async fn lookup(&self, name: &str) -> Answer {
        let lookup = {
            let mut names = self.names.borrow_mut();
            let now = Instant::now();
            // A lookup under way is joined. One older than its own timeout was
            // abandoned by everyone who waited for it (its answer, if it has one, may be
            // stale): it is not live, and a new one starts below.
            match names
                .get(name)
                .filter(|entry| entry.is_live(now, self.timeout))
            {
                Some(Entry::Answered { answer, .. }) => return answer.clone(),
                Some(Entry::Pending { lookup, .. }) => lookup.clone(),
                None => {
                    if names.len() >= MAX_NAMES {
                        names.retain(|_, entry| entry.is_live(now, self.timeout));
                        if names.len() >= MAX_NAMES {
                            names.clear();
                        }
                    }
                    let lookup = self.start(name);
                    names.insert(
                        name.to_owned(),
                        Entry::Pending {
                            lookup: lookup.clone(),
                            started: now,
                        },
                    );
                    lookup
                }
            }
        };
        let answer = lookup.clone().await;
        // The first waiter to wake settles the entry, if it is still this lookup's.
        let mut names = self.names.borrow_mut();
        if let Some(entry) = names.get_mut(name) {
            if matches!(entry, Entry::Pending { lookup: pending, .. } if pending.ptr_eq(&lookup)) {
                let ttl = if answer.is_ok() {
                    self.resolved_ttl
                } else {
                    FAILED_TTL
                };
                *entry = Entry::Answered {
                    answer: answer.clone(),
                    until: Instant::now() + ttl,
                };
            }
        }
        answer
    }

    /// Starts looking `name` up on the blocking pool.
    fn start(&self, name: &str) -> Lookup {
        self.metrics.dns_lookups.inc();
        let name = name.to_owned();
        let timeout = self.timeout;
        async move {
            // The port is the caller's to add: the name alone is looked up.
            match tokio::time::timeout(timeout, tokio::net::lookup_host((name.as_str(), 0))).await {
                Err(_) => Err(error(
                    ErrorKind::Dns,
                    format!("looking up {name} took longer than {timeout:?}"),
                )),
                Ok(Err(e)) => Err(error(ErrorKind::Dns, format!("cannot resolve {name}: {e}"))),
                Ok(Ok(addrs)) => {
                    let ips: Rc<[IpAddr]> = addrs.map(|addr| addr.ip()).collect();
                    if ips.is_empty() {
                        Err(error(ErrorKind::Dns, format!("{name} has no addresses")))
                    } else {
                        Ok(ips)
                    }
                }
            }
        }
        .boxed_local()
        .shared()
    }
}

impl Entry {
    /// Whether the entry is still of use at `now`: an answer before it expires, a
    /// lookup within its `timeout`.
    fn is_live(&self, now: Instant, timeout: Duration) -> bool {
        match self {
            Entry::Answered { until, .. } => *until > now,
            Entry::Pending { started, .. } => now.duration_since(*started) <= timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(resolved_ttl: Duration) -> Resolver {
        Resolver {
            resolved_ttl,
            ..Resolver::new(Duration::from_secs(3), Arc::new(Metrics::default()))
        }
    }

    fn lookups(resolver: &Resolver) -> u64 {
        resolver.metrics.dns_lookups.get()
    }

    #[actix_rt::test]
    async fn requests_that_ask_at_once_share_one_lookup_and_later_ones_the_answer() {
        let resolver = resolver(RESOLVED_TTL);
        let answers =
            futures_util::future::join_all((0..20).map(|_| resolver.lookup("localhost"))).await;
        assert_eq!(lookups(&resolver), 1);
        for answer in &answers {
            let ips = answer.as_ref().expect("localhost resolves");
            assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
        }
        resolver.lookup("localhost").await.unwrap();
        assert_eq!(lookups(&resolver), 1, "answered from the cache");
    }

    #[actix_rt::test]
    async fn an_answer_is_looked_up_again_once_it_expires() {
        let resolver = resolver(Duration::from_millis(20));
        resolver.lookup("localhost").await.unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        resolver.lookup("localhost").await.unwrap();
        assert_eq!(lookups(&resolver), 2);
    }

    #[actix_rt::test]
    async fn a_failed_lookup_is_a_dns_error_and_is_remembered_briefly() {
        let resolver = resolver(RESOLVED_TTL);
        // A label longer than 63 bytes: the C library refuses the name itself, without
        // asking any DNS server (tests send nothing beyond loopback).
        let name = format!("{}.example", "a".repeat(64));
        let error = resolver.lookup(&name).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Dns, "{error:?}");
        assert!(error.message.contains(&name), "{error:?}");
        resolver.lookup(&name).await.unwrap_err();
        assert_eq!(lookups(&resolver), 1);
    }

    #[actix_rt::test]
    async fn the_cache_never_holds_more_than_its_bound() {
        let resolver = resolver(RESOLVED_TTL);
        let now = Instant::now();
        for i in 0..MAX_NAMES {
            resolver.names.borrow_mut().insert(
                format!("host-{i}.example"),
                Entry::Answered {
                    answer: Ok(Rc::from(vec![IpAddr::from([192, 0, 2, 1])])),
                    until: now + RESOLVED_TTL,
                },
            );
        }
        resolver.lookup("localhost").await.unwrap();
        assert!(resolver.names.borrow().len() <= MAX_NAMES);
        assert!(resolver.names.borrow().contains_key("localhost"));
    }
}
