//! The one HTTP client for every callback Switchboard makes: SSRF-guarded, redirect-free,
//! time- and size-capped, with errors safe to show to customers.

use std::error::Error as StdError;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use url::{Host, Url};

pub use super::policy::OutboundPolicy;
use super::policy::{AddressGuard, BlockedDestination};
use super::resolver::{GuardedResolver, UnresolvableHost};

/// Why an outbound request failed. Every message is fit for a customer-facing delivery log:
/// it never carries the URL's query or credentials, header values, or the response body.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL cannot be used: unparsable, not http(s), carries credentials, or the client
    /// configuration (allow-list) is invalid.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The destination is an address the policy refuses (private, loopback, metadata, ...).
    /// The message never says what a host name resolved to; the server log does.
    #[error("blocked: {0}")]
    Blocked(String),
    /// The caller's total time limit passed before the response body was complete.
    #[error("timed out")]
    Timeout,
    /// No connection could be made: refused, unreachable, DNS failure, TLS failure.
    #[error("{0}")]
    Connect(String),
    /// The response body exceeded `max_response_bytes`.
    #[error("response body exceeded the size limit")]
    TooLarge,
    /// The exchange failed after connecting (protocol error, connection closed, ...).
    #[error("{0}")]
    Http(String),
}

/// A fully read response. Non-2xx statuses are responses, not errors: callers decide.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body, at most `max_response_bytes` long.
    pub body: Bytes,
    /// Time from sending the request to the end of the body, for delivery logs.
    pub elapsed: Duration,
}

impl OutboundResponse {
    /// Whether the status is 2xx, the usual meaning of "delivered".
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The guarded client. Cheap to clone; build one at startup and share it.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    guard: Arc<AddressGuard>,
    max_response_bytes: usize,
}

impl OutboundClient {
    /// Builds the client: rustls, no redirects, no proxies from the environment (a proxy would
    /// resolve names where our guard cannot see), and the guarded resolver.
    pub fn new(policy: OutboundPolicy) -> Result<Self, OutboundError> {
        let guard = Arc::new(AddressGuard::from_policy(&policy).map_err(OutboundError::InvalidUrl)?);
        let http = reqwest::Client::builder()
            .tls_backend_rustls()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(policy.connect_timeout)
            .user_agent(policy.user_agent.as_str())
            .dns_resolver(GuardedResolver::new(Arc::clone(&guard)))
            .build()
            .map_err(|err| OutboundError::Http(format!("cannot build the HTTP client: {}", describe_chain(&err))))?;
        Ok(Self { inner: Arc::new(Inner { http, guard, max_response_bytes: policy.max_response_bytes }) })
    }

    /// POSTs a JSON body (`Content-Type: application/json` unless `headers` sets one) and
    /// reads the whole response within `timeout`.
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(HeaderName, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        self.fetch(Method::POST, url, headers, Some(body), timeout).await
    }

    /// GETs `url` and reads the whole response within `timeout`.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(HeaderName, String)],
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        self.fetch(Method::GET, url, headers, None, timeout).await
    }

    /// The guarded reqwest client, for streaming consumers (the LLM client). Its resolver
    /// refuses blocked host names, but it cannot see IP-literal URLs: run [`Self::check_url`]
    /// first, or send through [`Self::send_streaming`], which does.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Pre-flight check of a URL: http(s) only, no credentials, and an IP-literal host (which
    /// never reaches the resolver) must be allowed by the policy.
    pub fn check_url(&self, url: &str) -> Result<Url, OutboundError> {
        let url = Url::parse(url).map_err(|err| OutboundError::InvalidUrl(err.to_string()))?;
        check_scheme_and_credentials(&url)?;
        let port = url.port_or_known_default().ok_or_else(|| OutboundError::InvalidUrl("no port".into()))?;
        let guard = &self.inner.guard;
        let verdict = match url.host() {
            None => return Err(OutboundError::InvalidUrl("the URL has no host".into())),
            Some(Host::Ipv4(ip)) => guard.check_literal(IpAddr::V4(ip), port),
            Some(Host::Ipv6(ip)) => guard.check_literal(IpAddr::V6(ip), port),
            Some(Host::Domain(domain)) => guard.check_host_port(domain, port),
        };
        verdict.map_err(|blocked| OutboundError::Blocked(blocked.public().to_owned()))?;
        Ok(url)
    }

    /// Sends a request built on [`Self::http`] after [`Self::check_url`], returning the
    /// response unread so the caller can stream it. Set the timeout on the request itself.
    pub async fn send_streaming(&self, request: reqwest::Request) -> Result<reqwest::Response, OutboundError> {
        self.check_url(request.url().as_str())?;
        self.inner.http.execute(request).await.map_err(OutboundError::from)
    }

    async fn fetch(
        &self,
        method: Method,
        url: &str,
        headers: &[(HeaderName, String)],
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        let url = self.check_url(url)?;
        let mut request = self.inner.http.request(method, url).timeout(timeout);
        if let Some(body) = body {
            request = request.headers(header_map(headers, Some("application/json"))?).body(body);
        } else {
            request = request.headers(header_map(headers, None)?);
        }
        let started = Instant::now();
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = read_capped(response, self.inner.max_response_bytes).await?;
            Ok(OutboundResponse { status, headers, body, elapsed: started.elapsed() })
        };
        tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(OutboundError::Timeout))
    }
}

fn check_scheme_and_credentials(url: &Url) -> Result<(), OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::InvalidUrl(format!("scheme `{}` is not allowed; use http or https", url.scheme())));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OutboundError::InvalidUrl("URLs with credentials are not allowed".into()));
    }
    Ok(())
}

/// The caller's headers, plus a default `Content-Type` when it did not set one. A value that is
/// not a valid header is refused by name only: values may be secrets.
fn header_map(
    headers: &[(HeaderName, String)],
    content_type: Option<&'static str>,
) -> Result<HeaderMap, OutboundError> {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let value = HeaderValue::from_str(value)
            .map_err(|_| OutboundError::Http(format!("header {name} has an invalid value")))?;
        map.append(name.clone(), value);
    }
    if let Some(content_type) = content_type
        && !map.contains_key(CONTENT_TYPE)
    {
        map.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    Ok(map)
}

/// Reads the body chunk by chunk and stops as soon as it would exceed `limit`, so a huge or
/// endless body costs at most `limit` bytes of memory.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Bytes, OutboundError> {
    if response.content_length().is_some_and(|declared| declared > limit as u64) {
        return Err(OutboundError::TooLarge);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(OutboundError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

impl OutboundError {
    /// Our own refusal of a destination, when it is in `err`'s source chain (an error of a
    /// request sent on [`OutboundClient::http`]), as the customer-safe [`OutboundError::Blocked`].
    pub fn refusal_in(err: &(dyn StdError + 'static)) -> Option<Self> {
        find_in_chain::<BlockedDestination>(err).map(|blocked| Self::Blocked(blocked.public().to_owned()))
    }
}

impl From<reqwest::Error> for OutboundError {
    /// Turns a reqwest error into a customer-safe one: our own refusals are found in the source
    /// chain, the URL is dropped, and only error kinds and protocol messages remain.
    fn from(err: reqwest::Error) -> Self {
        let err = err.without_url();
        if let Some(blocked) = Self::refusal_in(&err) {
            return blocked;
        }
        if let Some(unresolvable) = find_in_chain::<UnresolvableHost>(&err) {
            return Self::Connect(unresolvable.to_string());
        }
        if err.is_connect() {
            return Self::Connect(describe_connect_failure(&err));
        }
        if err.is_timeout() {
            return Self::Timeout;
        }
        Self::Http(describe_chain(&err))
    }
}

fn find_in_chain<'a, E: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

fn describe_connect_failure(err: &reqwest::Error) -> String {
    let Some(io_err) = find_in_chain::<io::Error>(err) else {
        return if err.is_timeout() { "connection timed out".into() } else { "could not connect".into() };
    };
    match io_err.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::TimedOut => "connection timed out".into(),
        io::ErrorKind::HostUnreachable => "host unreachable".into(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
        _ => format!("could not connect: {io_err}"),
    }
}

/// The messages of an error and its sources, deduplicated, joined with ": ".
fn describe_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(err) = current {
        let message = err.to_string();
        if !parts.iter().any(|part| part.contains(&message)) {
            parts.push(message);
        }
        current = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(policy: OutboundPolicy) -> OutboundClient {
        OutboundClient::new(policy).unwrap()
    }

    fn strict() -> OutboundClient {
        client(OutboundPolicy::default())
    }

    #[test]
    fn refuses_non_http_schemes_and_credentials() {
        let client = strict();
        for url in ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com", "data:text/plain,hi"] {
            assert!(matches!(client.check_url(url), Err(OutboundError::InvalidUrl(_))), "{url}");
        }
        for url in ["https://user:pass@example.com/", "https://user@example.com/", "https://:pw@example.com/"] {
            let err = client.check_url(url).unwrap_err();
            assert_eq!(err.to_string(), "invalid URL: URLs with credentials are not allowed", "{url}");
        }
        assert!(matches!(client.check_url("not a url"), Err(OutboundError::InvalidUrl(_))));
        assert!(client.check_url("https://example.com/hook?x=1").is_ok());
    }

    #[test]
    fn refuses_private_ip_literals_in_every_spelling() {
        let client = strict();
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://0.0.0.0:8080/",
            "http://10.0.0.5/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
        ] {
            assert!(matches!(client.check_url(url), Err(OutboundError::Blocked(_))), "{url}");
        }
        assert_eq!(
            client.check_url("http://10.0.0.5/hook").unwrap_err().to_string(),
            "blocked: 10.0.0.5 is a private address"
        );
        assert!(client.check_url("http://8.8.8.8/").is_ok());
        assert!(client.check_url("http://[2606:4700::1111]/").is_ok());
    }

    #[test]
    fn dev_mode_still_refuses_metadata() {
        let client = client(OutboundPolicy { allow_private: true, ..Default::default() });
        assert!(client.check_url("http://127.0.0.1:3000/").is_ok());
        assert!(client.check_url("http://192.168.1.10/").is_ok());
        assert!(matches!(client.check_url("http://169.254.169.254/"), Err(OutboundError::Blocked(_))));
        assert!(matches!(client.check_url("http://[fd00:ec2::254]/"), Err(OutboundError::Blocked(_))));
    }

    #[test]
    fn allow_list_ports_are_enforced_before_sending() {
        let allow_list = vec!["127.0.0.1:8080".into(), "hooks.internal:8443".into()];
        let client = client(OutboundPolicy { allow_list, ..Default::default() });
        assert!(client.check_url("http://127.0.0.1:8080/").is_ok());
        assert!(matches!(client.check_url("http://127.0.0.1:8081/"), Err(OutboundError::Blocked(_))));
        assert!(client.check_url("https://hooks.internal:8443/").is_ok());
        assert!(matches!(client.check_url("https://hooks.internal/"), Err(OutboundError::Blocked(_))));
    }

    #[test]
    fn invalid_allow_list_is_a_startup_error() {
        let policy = OutboundPolicy { allow_list: vec!["10.0.0.0/99".into()], ..Default::default() };
        assert!(matches!(OutboundClient::new(policy), Err(OutboundError::InvalidUrl(_))));
    }

    #[test]
    fn header_values_are_never_echoed() {
        let headers = [(HeaderName::from_static("authorization"), "Bearer secret\nvalue".to_string())];
        let err = header_map(&headers, None).unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn json_content_type_is_a_default_only() {
        let map = header_map(&[], Some("application/json")).unwrap();
        assert_eq!(map[CONTENT_TYPE], "application/json");
        let custom = [(CONTENT_TYPE, "application/cloudevents+json".to_string())];
        let map = header_map(&custom, Some("application/json")).unwrap();
        assert_eq!(map.get_all(CONTENT_TYPE).iter().count(), 1);
        assert_eq!(map[CONTENT_TYPE], "application/cloudevents+json");
    }
}
