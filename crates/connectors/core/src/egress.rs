//! The only way connectors reach the network.
//!
//! Latch calls URLs its users typed, so every call goes through a client that: speaks https
//! only (http where the operator allows it); calls the ports the calling connector declares
//! (443 unless it says otherwise) and those the operator configured;
//! takes no proxy from the environment; follows no redirects; resolves names itself and drops
//! every address that is not public unicast, and checks IP-literal hosts the same way;
//! gives up after 5 s to connect and 15 s in all; and reads at most 64 KiB of a response.
//! What an upstream asks to wait (`Retry-After`) is held to a day.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use url::{Host, Url};

use crate::address::blocked_reason;

/// The port a connector calls unless it declares others: https.
pub const HTTPS_PORTS: &[u16] = &[443];
/// The most of a response body Latch reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest wait an upstream's `Retry-After` is taken for, in seconds: a day. Past it a
/// value is more likely a wrong clock or a typo than a plan, and the waits built on it (a
/// credential's cool-down, a delivery's next attempt) must stay representable.
pub const MAX_RETRY_AFTER_SECONDS: u64 = 24 * 3600;

/// What the operator allows beyond the safe defaults.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    /// Call plain `http://` URLs (local mock servers).
    pub allow_http: bool,
    /// Ports callable besides those the calling connector declares.
    pub extra_ports: Vec<u16>,
    /// Address ranges callable although not public (`LATCH_EGRESS_ALLOW_CIDRS`). Any port is
    /// callable on an IP literal inside them: the operator vouched for those hosts.
    pub allow_cidrs: Vec<IpNet>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Names looked up in this table instead of DNS; a name not in it does not resolve. For
    /// tests: what a name resolves to is then declared, and no lookup leaves the machine.
    pub fixed_hosts: Option<Arc<HashMap<String, Vec<IpAddr>>>>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        Self {
            allow_http: false,
            extra_ports: Vec::new(),
            allow_cidrs: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            fixed_hosts: None,
        }
    }
}

impl EgressPolicy {
    /// `Err(reason)` when the address may not be called.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.allow_cidrs.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        match blocked_reason(ip) {
            Some(reason) => Err(format!("{ip} is {reason}")),
            None => Ok(()),
        }
    }

    fn allowed_cidr_literal(&self, host: Option<Host<&str>>) -> bool {
        let ip = match host {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return false,
        };
        self.allow_cidrs.iter().any(|net| net.contains(&ip))
    }

    /// Checks everything about a URL that can be checked before connecting, for a caller
    /// that declared `ports`.
    pub fn check_url(&self, url: &Url, ports: &[u16]) -> Result<(), EgressError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            scheme => {
                return Err(EgressError::Blocked(format!(
                    "{scheme}:// URLs are not allowed; use https"
                )));
            }
        }
        let port = url.port_or_known_default().unwrap_or(0);
        let port_allowed = ports.contains(&port)
            || self.extra_ports.contains(&port)
            || self.allowed_cidr_literal(url.host());
        if !port_allowed {
            return Err(EgressError::Blocked(format!(
                "port {port} is not allowed (allowed: {})",
                ports
                    .iter()
                    .chain(&self.extra_ports)
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // IP-literal hosts never reach the resolver: check them here. The URL parser has
        // already turned decimal, octal and hex spellings into addresses.
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err(EgressError::Blocked("the URL names no host".into())),
        };
        self.check_ip(ip).map_err(EgressError::Blocked)
    }
}

/// Why a call did not produce a response. Messages name hosts and addresses, never secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// Refused by policy before or instead of connecting.
    #[error("the address is not allowed: {0}")]
    Blocked(String),
    #[error("the host name could not be resolved: {0}")]
    Dns(String),
    #[error("the connection failed: {0}")]
    Connect(String),
    #[error("the TLS handshake failed: {0}")]
    Tls(String),
    #[error("no answer within {0} seconds")]
    Timeout(u64),
    #[error("the response is larger than {MAX_BODY_BYTES} bytes")]
    BodyTooLarge,
    #[error("the request failed: {0}")]
    Other(String),
}

/// A response whose body was read in full (and within the cap).
#[derive(Debug)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl UpstreamResponse {
    /// `Retry-After` in seconds from now, at most [`MAX_RETRY_AFTER_SECONDS`].
    pub fn retry_after(&self) -> Option<u64> {
        retry_after_at(
            self.headers.get(RETRY_AFTER)?.to_str().ok()?,
            SystemTime::now(),
        )
    }
}

/// A `Retry-After` value read at `now`, in whole seconds (rounded up), at most
/// [`MAX_RETRY_AFTER_SECONDS`]. RFC 9110 section 10.2.3: `Retry-After = HTTP-date /
/// delay-seconds`; a date already past asks for no wait. Anything else is not a value.
fn retry_after_at(value: &str, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    let seconds = if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // Digits past what u64 holds are still a (very long) delay.
        value.parse().unwrap_or(u64::MAX)
    } else {
        let wait = httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or_default();
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    };
    Some(seconds.min(MAX_RETRY_AFTER_SECONDS))
}

/// An HTTP client that only makes the calls [`EgressPolicy`] allows, on the ports of the
/// connector it is handed to ([`EgressClient::for_ports`]).
#[derive(Clone)]
pub struct EgressClient {
    http: reqwest::Client,
    policy: Arc<EgressPolicy>,
    ports: &'static [u16],
}

impl EgressClient {
    pub fn new(policy: EgressPolicy) -> Result<Self, EgressError> {
        install_crypto_provider();
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .user_agent(concat!("latch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| EgressError::Other(error.to_string()))?;
        Ok(Self {
            http,
            policy,
            ports: HTTPS_PORTS,
        })
    }

    /// The same client, calling `ports` (a connector's own) besides the operator's.
    pub fn for_ports(&self, ports: &'static [u16]) -> Self {
        Self {
            http: self.http.clone(),
            policy: self.policy.clone(),
            ports,
        }
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// A request to `url`, refused when the URL breaks the policy.
    pub fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, EgressError> {
        self.policy.check_url(&url, self.ports)?;
        Ok(self.http.request(method, url))
    }

    /// Sends a request and reads its body, up to [`MAX_BODY_BYTES`]. A redirect is refused:
    /// its target was never checked.
    pub async fn execute(&self, request: RequestBuilder) -> Result<UpstreamResponse, EgressError> {
        let mut response = self.send(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        if response
            .content_length()
            .is_some_and(|length| length > MAX_BODY_BYTES as u64)
        {
            return Err(EgressError::BodyTooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.classify(&error))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(EgressError::BodyTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(UpstreamResponse {
            status,
            headers,
            body,
        })
    }

    /// Sends a request as [`EgressClient::execute`] does, but reads none of the body: for a
    /// caller that needs only the status and headers (a webhook endpoint's answer), so that a
    /// long body is neither read nor a failure. The answer's `body` is empty.
    pub async fn execute_for_status(
        &self,
        request: RequestBuilder,
    ) -> Result<UpstreamResponse, EgressError> {
        let response = self.send(request).await?;
        Ok(UpstreamResponse {
            status: response.status(),
            headers: response.headers().clone(),
            body: Vec::new(),
        })
    }

    /// What a failed call means, in this client's request timeout.
    fn classify(&self, error: &reqwest::Error) -> EgressError {
        classify(error, self.policy.request_timeout.as_secs().max(1))
    }

    /// Sends a request built by [`EgressClient::request`]; a redirect is an error.
    async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, EgressError> {
        let response = request
            .send()
            .await
            .map_err(|error| self.classify(&error))?;
        if response.status().is_redirection() {
            let target = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|location| response.url().join(location).ok())
                .and_then(|target| target.host_str().map(str::to_string))
                .unwrap_or_else(|| "another address".into());
            return Err(EgressError::Blocked(format!(
                "the host answered with a redirect to {target}; redirects are not followed"
            )));
        }
        Ok(response)
    }
}

/// Installs rustls' ring provider as the process default, once. Every reqwest client needs
/// one; the egress client installs it itself, other clients (tests) call this first.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Fails only when a provider is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Turns reqwest's error into what a user can act on, by what caused it.
fn classify(error: &reqwest::Error, timeout_secs: u64) -> EgressError {
    if error.is_timeout() {
        return EgressError::Timeout(timeout_secs);
    }
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(cause) = source {
        if let Some(blocked) = cause.downcast_ref::<BlockedAddress>() {
            return EgressError::Blocked(blocked.0.clone());
        }
        if let Some(failure) = cause.downcast_ref::<DnsFailure>() {
            return EgressError::Dns(failure.0.clone());
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return EgressError::Tls(tls.to_string());
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return EgressError::Timeout(timeout_secs);
            }
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return EgressError::Tls(tls.to_string());
            }
            if error.is_connect() {
                return EgressError::Connect(io.to_string());
            }
        }
        source = cause.source();
    }
    if error.is_connect() {
        EgressError::Connect("could not connect".into())
    } else {
        EgressError::Other(without_url(error))
    }
}

fn without_url(error: &reqwest::Error) -> String {
    // reqwest's Display names the URL; the URL holds nothing secret (bodies carry secrets),
    // but keep messages about causes.
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the host");
    }
    text
}

#[derive(Debug)]
struct BlockedAddress(String);

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for BlockedAddress {}

#[derive(Debug)]
struct DnsFailure(String);

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for DnsFailure {}

/// Resolves with the system resolver, then drops every address the policy refuses; fails
/// when none is left, so a name that points inside the network is never called.
struct GuardedResolver {
    policy: Arc<EgressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = match &policy.fixed_hosts {
                Some(table) => table
                    .get(&host)
                    .into_iter()
                    .flatten()
                    .map(|ip| SocketAddr::new(*ip, 0))
                    .collect(),
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|error| -> Box<dyn StdError + Send + Sync> {
                        Box::new(DnsFailure(format!("{host}: {error}")))
                    })?
                    .collect(),
            };
            let mut refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| match policy.check_ip(address.ip()) {
                    Ok(()) => true,
                    Err(reason) => {
                        refused.get_or_insert(reason);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let error: Box<dyn StdError + Send + Sync> = match refused {
                    // Logged (and audited) by whoever made the call, with the rest of its outcome.
                    Some(reason) => {
                        Box::new(BlockedAddress(format!("{host} resolves to {reason}")))
                    }
                    None => Box::new(DnsFailure(format!("{host} has no address"))),
                };
                return Err(error);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &EgressPolicy, url: &str) -> String {
        match policy.check_url(&Url::parse(url).unwrap(), HTTPS_PORTS) {
            Err(EgressError::Blocked(reason)) => reason,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date_and_held_to_a_day() {
        // 1994-11-06T08:49:37Z, RFC 9110's own example date.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let at = |value: &str| retry_after_at(value, now);
        assert_eq!(at("120"), Some(120));
        assert_eq!(at(" 7 "), Some(7));
        assert_eq!(at("0"), Some(0));
        // The three forms of HTTP-date a recipient must accept, two minutes ahead.
        assert_eq!(at("Sun, 06 Nov 1994 08:51:37 GMT"), Some(120));
        assert_eq!(at("Sunday, 06-Nov-94 08:51:37 GMT"), Some(120));
        assert_eq!(at("Sun Nov  6 08:51:37 1994"), Some(120));
        // Part of a second still to wait is a whole second.
        let just_before = now - Duration::from_millis(300);
        assert_eq!(
            retry_after_at("Sun, 06 Nov 1994 08:49:38 GMT", just_before),
            Some(2)
        );
        assert_eq!(at("Sun, 06 Nov 1994 08:00:00 GMT"), Some(0), "a date past");
        assert_eq!(
            at("Mon, 06 Nov 1995 08:49:37 GMT"),
            Some(MAX_RETRY_AFTER_SECONDS)
        );
        assert_eq!(at("86401"), Some(MAX_RETRY_AFTER_SECONDS));
        assert_eq!(
            at("18446744073709551616000"),
            Some(MAX_RETRY_AFTER_SECONDS),
            "past what u64 holds"
        );
        for nonsense in ["", "soon", "-5", "1.5", "Sun, 06 Nov 1994"] {
            assert_eq!(at(nonsense), None, "{nonsense:?}");
        }
    }

    #[test]
    fn only_https_on_the_callers_ports_passes_by_default() {
        let policy = EgressPolicy::default();
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(
            policy
                .check_url(&url("https://upstream.example.com"), HTTPS_PORTS)
                .is_ok()
        );
        assert!(
            policy
                .check_url(&url("https://upstream.example.com:8443"), &[443, 8443])
                .is_ok(),
            "a port the connector declares is callable"
        );
        assert!(refused(&policy, "http://upstream.example.com").contains("http://"));
        assert!(refused(&policy, "https://upstream.example.com:8443").contains("port 8443"));
    }

    #[test]
    fn operator_ports_add_to_every_connectors_own() {
        let policy = EgressPolicy {
            extra_ports: vec![8443],
            ..EgressPolicy::default()
        };
        let url = Url::parse("https://upstream.example.com:8443").unwrap();
        assert!(policy.check_url(&url, HTTPS_PORTS).is_ok());
        let url = Url::parse("https://upstream.example.com:9443").unwrap();
        match policy.check_url(&url, HTTPS_PORTS) {
            Err(EgressError::Blocked(reason)) => {
                assert!(reason.contains("allowed: 443, 8443"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn allowed_ranges_open_their_addresses_and_any_port_on_them() {
        let policy = EgressPolicy {
            allow_http: true,
            allow_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
            ..EgressPolicy::default()
        };
        assert!(
            policy
                .check_url(&Url::parse("http://127.0.0.1:18080").unwrap(), HTTPS_PORTS)
                .is_ok()
        );
        assert!(refused(&policy, "http://10.0.0.1:443").contains("private"));
        assert!(refused(&policy, "http://[::1]:443").contains("loopback"));
    }
}
