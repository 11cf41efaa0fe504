//! The awc client of one fetcher.

use std::sync::Arc;

use trawl_core::settings::FetcherSettings;

use crate::eof::EofWatchingConnector;

/// Builds a client for one fetcher thread: up to `concurrency` connections, the connect
/// deadline, TLS, no automatic redirects (they are followed by hand, through the guard),
/// and TCP streams that report end-of-file (see `eof`).
pub(crate) fn build(settings: &FetcherSettings) -> awc::Client {
    let tcp = actix_tls::connect::Connector::new(actix_tls::connect::Resolver::default()).service();
    let connector = awc::Connector::new()
        .connector(EofWatchingConnector { tcp })
        .rustls_0_23(tls_config())
        .limit(settings.concurrency)
        .timeout(settings.connect_timeout());
    awc::Client::builder()
        .connector(connector)
        // The per-attempt deadline is one timer around the whole attempt (waiting for a
        // pooled connection and the body included), so awc's own timer would only be a
        // second timer per request that never fires first.
        .disable_timeout()
        .disable_redirects()
        .finish()
}

/// The TLS configuration: webpki's roots with ring.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}
