//! What outbound requests may reach: the operator's policy and the address guard compiled from it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;

use super::address::{AddressClass, classify};

/// Default cap on a buffered response body: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Default time allowed to open a TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How far outbound HTTP may reach. Customers choose the URLs Switchboard calls (server_url,
/// webhooks, KB crawls), so by default nothing but public unicast addresses is reachable;
/// the operator relaxes that with `--dev` or an explicit allow-list.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// `--dev`: loopback, private, CGNAT, link-local and unique-local addresses are allowed.
    /// Cloud metadata, multicast, broadcast, documentation and reserved ranges stay blocked.
    pub allow_private: bool,
    /// Destinations allowed even though their address is not public. Entries are `host`
    /// (any port), `host:port`, an IP address, `ip:port` (`[v6]:port`), or a CIDR block
    /// such as `10.0.0.0/8`. Host entries match the URL's host name; address entries match
    /// the address actually connected to.
    pub allow_list: Vec<String>,
    /// Largest response body `post_json` and `get` will buffer.
    pub max_response_bytes: usize,
    /// Time allowed to open a TCP connection (the caller's total timeout still applies).
    pub connect_timeout: Duration,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            allow_private: false,
            allow_list: Vec::new(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: format!("Switchboard/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// One parsed allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AllowEntry {
    Network(IpNet),
    Socket(SocketAddr),
    Host(String),
    HostPort(String, u16),
}

impl AllowEntry {
    fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        let invalid = || format!("allow-list entry `{entry}` is not a host, host:port, IP address or CIDR block");
        if entry.contains('/') {
            return entry.parse::<IpNet>().map(|net| Self::Network(net.trunc())).map_err(|_| invalid());
        }
        if let Ok(ip) = entry.parse::<IpAddr>() {
            return Ok(Self::Network(IpNet::from(ip)));
        }
        if let Ok(socket) = entry.parse::<SocketAddr>() {
            return Ok(Self::Socket(socket));
        }
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse::<u16>().map_err(|_| invalid())?)),
            None => (entry, None),
        };
        if !is_host_name(host) {
            return Err(invalid());
        }
        let host = normalize_host(host);
        Ok(match port {
            Some(port) => Self::HostPort(host, port),
            None => Self::Host(host),
        })
    }
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Host names compare case-insensitively and without a trailing root dot.
fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Why a destination was refused. Customers choose the URLs, so what they are
/// told ([`BlockedDestination::public`], the text after "blocked: ") never
/// names an address they did not write themselves: otherwise they could map
/// the server's internal network by name. The full reason (`Display`) is for
/// the server log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockedDestination {
    public: String,
    detail: String,
}

impl BlockedDestination {
    /// A refusal whose reason names only what the URL itself says.
    fn plain(reason: String) -> Self {
        Self { public: reason.clone(), detail: reason }
    }

    /// What a customer-facing error may say.
    pub(crate) fn public(&self) -> &str {
        &self.public
    }
}

impl fmt::Display for BlockedDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for BlockedDestination {}

/// The compiled policy, shared by the pre-flight URL check and the connect-time resolver.
#[derive(Debug)]
pub(crate) struct AddressGuard {
    allow_private: bool,
    entries: Vec<AllowEntry>,
}

impl AddressGuard {
    /// Compiles a policy; an unparsable allow-list entry is an error, never silently ignored.
    pub(crate) fn from_policy(policy: &OutboundPolicy) -> Result<Self, String> {
        let entries = policy.allow_list.iter().map(|entry| AllowEntry::parse(entry)).collect::<Result<_, _>>()?;
        Ok(Self { allow_private: policy.allow_private, entries })
    }

    /// Checks an IP literal taken from a URL, where the port is known.
    pub(crate) fn check_literal(&self, ip: IpAddr, port: u16) -> Result<(), BlockedDestination> {
        match self.refusal(ip, None, Some(port)) {
            Some(class) => Err(BlockedDestination::plain(format!("{ip} is {}", class.description()))),
            None => Ok(()),
        }
    }

    /// Checks an address a host name resolved to, at connect time. The resolver does not
    /// learn the port, so `host:port` entries count for the host here and their port is
    /// enforced by [`AddressGuard::check_host_port`] before the request is sent.
    pub(crate) fn check_resolved(&self, host: &str, ip: IpAddr) -> Result<(), BlockedDestination> {
        match self.refusal(ip, Some(&normalize_host(host)), None) {
            Some(class) => Err(BlockedDestination {
                public: format!("destination {host} is not allowed"),
                detail: format!("{host} resolves to {ip}, {}", class.description()),
            }),
            None => Ok(()),
        }
    }

    /// Pre-flight check of a host name and port: a host allow-listed only as `host:port`
    /// may not be reached on other ports, whatever it resolves to.
    pub(crate) fn check_host_port(&self, host: &str, port: u16) -> Result<(), BlockedDestination> {
        let host = normalize_host(host);
        let mut listed_ports = Vec::new();
        for entry in &self.entries {
            match entry {
                AllowEntry::Host(listed) if *listed == host => return Ok(()),
                AllowEntry::HostPort(listed, listed_port) if *listed == host => {
                    if *listed_port == port {
                        return Ok(());
                    }
                    listed_ports.push(listed_port.to_string());
                }
                _ => {}
            }
        }
        if listed_ports.is_empty() {
            return Ok(());
        }
        Err(BlockedDestination::plain(format!("{host} is allow-listed only on port {}", listed_ports.join(", "))))
    }

    /// The class that makes `ip` unreachable under this policy, or `None` when it may be used.
    fn refusal(&self, ip: IpAddr, host: Option<&str>, port: Option<u16>) -> Option<AddressClass> {
        let class = classify(ip)?;
        if self.allow_private && class.relaxed_in_dev() {
            return None;
        }
        let allowed = self.entries.iter().any(|entry| match entry {
            AllowEntry::Network(net) => net.contains(&ip),
            AllowEntry::Socket(socket) => port == Some(socket.port()) && socket.ip() == ip,
            AllowEntry::Host(listed) | AllowEntry::HostPort(listed, _) => host == Some(listed.as_str()),
        });
        if allowed { None } else { Some(class) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(allow_private: bool, allow_list: &[&str]) -> AddressGuard {
        let policy = OutboundPolicy {
            allow_private,
            allow_list: allow_list.iter().map(|s| s.to_string()).collect(),
            ..OutboundPolicy::default()
        };
        AddressGuard::from_policy(&policy).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_every_allow_list_form() {
        let cases = [
            ("10.0.0.0/8", AllowEntry::Network("10.0.0.0/8".parse().unwrap())),
            ("10.1.2.3/8", AllowEntry::Network("10.0.0.0/8".parse().unwrap())),
            ("127.0.0.1", AllowEntry::Network("127.0.0.1/32".parse().unwrap())),
            ("fd00::/8", AllowEntry::Network("fd00::/8".parse().unwrap())),
            ("::1", AllowEntry::Network("::1/128".parse().unwrap())),
            ("127.0.0.1:8080", AllowEntry::Socket("127.0.0.1:8080".parse().unwrap())),
            ("[::1]:8080", AllowEntry::Socket("[::1]:8080".parse().unwrap())),
            ("Internal.Example.", AllowEntry::Host("internal.example".into())),
            ("crm.local:8443", AllowEntry::HostPort("crm.local".into(), 8443)),
        ];
        for (text, expected) in cases {
            assert_eq!(AllowEntry::parse(text).unwrap(), expected, "{text}");
        }
        for bad in ["", "10.0.0.0/33", "host:port", "host:99999", "http://x", "a b"] {
            assert!(AllowEntry::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_policy_blocks_private_and_allows_public() {
        let guard = guard(false, &[]);
        assert!(guard.check_literal(ip("8.8.8.8"), 443).is_ok());
        assert_eq!(guard.check_literal(ip("10.0.0.5"), 80).unwrap_err().to_string(), "10.0.0.5 is a private address");
        let refused = guard.check_resolved("LocalHost", ip("127.0.0.1")).unwrap_err();
        assert_eq!(refused.to_string(), "LocalHost resolves to 127.0.0.1, a loopback address", "for the log");
        assert_eq!(refused.public(), "destination LocalHost is not allowed", "for the customer");
        assert!(guard.check_host_port("example.com", 443).is_ok());
    }

    #[test]
    fn dev_mode_allows_local_networks_but_not_metadata() {
        let guard = guard(true, &[]);
        for allowed in ["127.0.0.1", "10.0.0.5", "192.168.1.1", "::1", "fd12::1", "169.254.1.1"] {
            assert!(guard.check_literal(ip(allowed), 80).is_ok(), "{allowed}");
        }
        for blocked in ["169.254.169.254", "fd00:ec2::254", "0.0.0.0", "224.0.0.1", "192.0.2.1"] {
            assert!(guard.check_literal(ip(blocked), 80).is_err(), "{blocked}");
        }
    }

    #[test]
    fn allow_list_entries_open_exactly_what_they_name() {
        let guard = guard(false, &["10.0.0.0/8", "127.0.0.1:9000", "crm.internal", "hooks.internal:8443"]);
        assert!(guard.check_literal(ip("10.9.9.9"), 80).is_ok());
        assert!(guard.check_literal(ip("192.168.0.1"), 80).is_err());
        assert!(guard.check_literal(ip("127.0.0.1"), 9000).is_ok());
        assert!(guard.check_literal(ip("127.0.0.1"), 9001).is_err());
        assert!(guard.check_resolved("crm.internal", ip("172.16.0.4")).is_ok());
        assert!(guard.check_resolved("CRM.internal.", ip("172.16.0.4")).is_ok());
        assert!(guard.check_resolved("other.internal", ip("172.16.0.4")).is_err());
        // An address entry with a port cannot vouch for a host name: the resolver sees no port.
        assert!(guard.check_resolved("localhost", ip("127.0.0.1")).is_err());
        assert!(guard.check_resolved("hooks.internal", ip("172.16.0.5")).is_ok());
        assert!(guard.check_host_port("hooks.internal", 8443).is_ok());
        assert_eq!(
            guard.check_host_port("hooks.internal", 80).unwrap_err().to_string(),
            "hooks.internal is allow-listed only on port 8443"
        );
        assert!(guard.check_host_port("crm.internal", 1234).is_ok());
    }
}
