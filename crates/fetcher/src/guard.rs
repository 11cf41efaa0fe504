//! The SSRF guard: decides which addresses a fetch may connect to.
//!
//! A host is resolved here (names through the fetcher's cache of lookups, `dns`), every
//! address it resolves to is checked, and the connection is pinned to the checked
//! address (awc's `ClientRequest::address`), so a second lookup can never hand the
//! client another address (DNS rebinding). IP-literal hosts are checked the same way:
//! the `url` crate has already normalised odd spellings (decimal, hex, octal, short
//! IPv4) by the time a URL reaches here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;

use trawl_core::metrics::Metrics;
use trawl_core::record::{ErrorKind, RecordError};
use trawl_core::settings::FetcherSettings;
use url::{Host, Url};

use crate::dns::Resolver;
use crate::request::error;

/// Which addresses fetches may reach. One per fetcher: it holds that fetcher's cache
/// of name lookups.
pub struct Guard {
    allow_private_networks: bool,
    allowed: Vec<Allowed>,
    resolver: Resolver,
}

/// One `fetcher.allow_addresses` entry.
#[derive(Debug, Clone, PartialEq)]
enum Allowed {
    Ip(IpAddr),
    Socket(SocketAddr),
    Network(IpAddr, u8),
}

impl Allowed {
    fn parse(entry: &str) -> Option<Allowed> {
        if let Some((ip, prefix)) = entry.split_once('/') {
            return Some(Allowed::Network(ip.parse().ok()?, prefix.parse().ok()?));
        }
        entry
            .parse()
            .map(Allowed::Ip)
            .or_else(|_| entry.parse().map(Allowed::Socket))
            .ok()
    }

    fn admits(&self, addr: SocketAddr) -> bool {
        match *self {
            Allowed::Ip(ip) => canonical(ip) == canonical(addr.ip()),
            Allowed::Socket(socket) => {
                canonical(socket.ip()) == canonical(addr.ip()) && socket.port() == addr.port()
            }
            Allowed::Network(network, prefix) => {
                in_network(canonical(addr.ip()), canonical(network), prefix)
            }
        }
    }
}

impl Guard {
    /// A guard enforcing `settings.allow_private_networks` and `allow_addresses`
    /// (validated at start-up; an entry that does not parse admits nothing), counting
    /// its name lookups in `metrics`.
    pub fn new(settings: &FetcherSettings, metrics: Arc<Metrics>) -> Guard {
        Guard {
            allow_private_networks: settings.allow_private_networks,
            allowed: settings
                .allowed_addresses()
                .filter_map(Allowed::parse)
                .collect(),
            resolver: Resolver::new(settings.connect_timeout(), metrics),
        }
    }

    /// Whether a connection to `addr` is permitted.
    pub fn permits(&self, addr: SocketAddr) -> bool {
        self.allow_private_networks
            || !is_special(addr.ip())
            || self.allowed.iter().any(|allowed| allowed.admits(addr))
    }

    /// Resolves `url`'s host and returns the address to connect to, or the per-URL
    /// error: `invalid_url`, `dns` or `blocked`. Every address of the host is checked;
    /// attempt number `attempt` (from 1) gets the host's addresses in turn, so a retry
    /// after a failed connect tries the next one instead of the same dead address for
    /// as long as the lookup is cached.
    pub async fn resolve(&self, url: &Url, attempt: u32) -> Result<SocketAddr, RecordError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(error(
                ErrorKind::InvalidUrl,
                format!("scheme {:?} is not http or https", url.scheme()),
            ));
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| error(ErrorKind::InvalidUrl, "the URL has no port"))?;
        // The host's addresses, borrowed from the cache for a name: no allocation per
        // request.
        let literal: [IpAddr; 1];
        let named: Rc<[IpAddr]>;
        let ips: &[IpAddr] = match url.host() {
            Some(Host::Ipv4(ip)) => {
                literal = [ip.into()];
                &literal
            }
            Some(Host::Ipv6(ip)) => {
                literal = [ip.into()];
                &literal
            }
            Some(Host::Domain(name)) => {
                named = self.resolver.lookup(name).await?;
                &named
            }
            None => return Err(error(ErrorKind::InvalidUrl, "the URL has no host")),
        };
        let addrs = || ips.iter().map(|ip| SocketAddr::new(*ip, port));
        if let Some(forbidden) = addrs().find(|addr| !self.permits(*addr)) {
            return Err(error(
                ErrorKind::Blocked,
                format!(
                    "{} is a loopback, private or otherwise special address and \
                     fetcher.allow_private_networks is false",
                    forbidden.ip()
                ),
            ));
        }
        Ok(SocketAddr::new(in_turn(ips, attempt), port))
    }
}

/// The address attempt number `attempt` (from 1) uses: the first, then the next.
fn in_turn(ips: &[IpAddr], attempt: u32) -> IpAddr {
    ips[(attempt.max(1) as usize - 1) % ips.len()]
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 inside it.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// IPv4 ranges that are not the public Internet.
const SPECIAL_V4: [(Ipv4Addr, u8); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
    (Ipv4Addr::new(255, 255, 255, 255), 32),
];

/// IPv6 ranges that are not the public Internet. `::/96` covers `::`, `::1` and the
/// deprecated IPv4-compatible forms; IPv4-mapped addresses are checked as IPv4.
const SPECIAL_V6: [(Ipv6Addr, u8); 8] = [
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128),
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
];

/// Whether `ip` is loopback, private, link-local, reserved or otherwise special.
pub fn is_special(ip: IpAddr) -> bool {
    match canonical(ip) {
        ip @ IpAddr::V4(_) => SPECIAL_V4
            .iter()
            .any(|(net, prefix)| in_network(ip, (*net).into(), *prefix)),
        ip @ IpAddr::V6(_) => SPECIAL_V6
            .iter()
            .any(|(net, prefix)| in_network(ip, (*net).into(), *prefix)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(private: bool, allow: &[&str]) -> FetcherSettings {
        FetcherSettings {
            allow_private_networks: private,
            allow_addresses: allow.iter().map(|s| s.to_string()).collect(),
            ..FetcherSettings::default()
        }
    }

    #[test]
    fn special_addresses() {
        for ip in [
            "0.1.2.3",
            "10.1.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.31.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.19.0.1",
            "198.51.100.2",
            "203.0.113.9",
            "224.0.0.1",
            "250.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "100::1",
            "2001:db8::1",
            "fd00::1",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(is_special(ip.parse().unwrap()), "{ip} should be special");
        }
        for ip in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "172.32.0.1",
        ] {
            assert!(!is_special(ip.parse().unwrap()), "{ip} should be public");
        }
    }

    #[actix_rt::test]
    async fn odd_spellings_of_loopback_are_blocked() {
        let guard = Guard::new(&settings(false, &[]), Default::default());
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost/",
            "http://0/",
        ] {
            let err = guard
                .resolve(&Url::parse(url).unwrap(), 1)
                .await
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::Blocked, "{url}: {}", err.message);
        }
    }

    #[actix_rt::test]
    async fn allow_list_admits_exactly_what_it_names() {
        let guard = Guard::new(
            &settings(false, &["127.0.0.1:8080", "10.0.0.0/8"]),
            Default::default(),
        );
        let ok = guard
            .resolve(&Url::parse("http://127.0.0.1:8080/").unwrap(), 1)
            .await
            .unwrap();
        assert_eq!(ok, "127.0.0.1:8080".parse().unwrap());
        assert!(guard
            .resolve(&Url::parse("http://10.9.9.9/").unwrap(), 1)
            .await
            .is_ok());
        let other_port = guard
            .resolve(&Url::parse("http://127.0.0.1:8081/").unwrap(), 1)
            .await;
        assert_eq!(other_port.unwrap_err().kind, ErrorKind::Blocked);
        let open = Guard::new(&settings(true, &[]), Default::default());
        assert!(open
            .resolve(&Url::parse("http://127.0.0.1/").unwrap(), 1)
            .await
            .is_ok());
    }

    #[test]
    fn each_attempt_takes_the_next_address_in_turn() {
        let addrs: Vec<IpAddr> = ["192.0.2.1", "192.0.2.2", "2001:db8::1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let picked: Vec<IpAddr> = (1..=4).map(|attempt| in_turn(&addrs, attempt)).collect();
        assert_eq!(picked, [addrs[0], addrs[1], addrs[2], addrs[0]]);
        assert_eq!(in_turn(&addrs[..1], 3), addrs[0]);
    }
}
