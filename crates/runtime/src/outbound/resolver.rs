//! The DNS resolver of the outbound client: it hands the connector only addresses the policy
//! allows, so the address checked is the address connected to (DNS-rebinding safe).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::AddressGuard;

/// Resolves with the system resolver (`tokio::net::lookup_host`) and drops every address the
/// guard refuses; when none is left the connection attempt fails with the first refusal.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    guard: Arc<AddressGuard>,
}

impl GuardedResolver {
    pub(crate) fn new(guard: Arc<AddressGuard>) -> Self {
        Self { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = Arc::clone(&self.guard);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| UnresolvableHost(host.clone()))?
                .collect();
            let permitted = permitted_addresses(&guard, &host, resolved)?;
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

/// The resolved addresses the guard allows, or why none of them may be used.
fn permitted_addresses(
    guard: &AddressGuard,
    host: &str,
    resolved: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let mut first_refusal = None;
    let mut permitted = Vec::with_capacity(resolved.len());
    for addr in resolved {
        match guard.check_resolved(host, addr.ip()) {
            Ok(()) => permitted.push(addr),
            Err(refusal) => {
                tracing::debug!(host, ip = %addr.ip(), "outbound: refused resolved address");
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    match (permitted.is_empty(), first_refusal) {
        (false, _) => Ok(permitted),
        (true, Some(refusal)) => {
            // The customer only learns that the destination is not allowed;
            // the address it resolved to is for the operator.
            tracing::info!(host, reason = %refusal, "outbound: destination refused");
            Err(Box::new(refusal))
        }
        (true, None) => Err(Box::new(UnresolvableHost(host.to_owned()))),
    }
}

/// The host name had no addresses; the message names the host only.
#[derive(Debug)]
pub(crate) struct UnresolvableHost(String);

impl fmt::Display for UnresolvableHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not resolve host {}", self.0)
    }
}

impl std::error::Error for UnresolvableHost {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::policy::OutboundPolicy;

    fn guard(allow_list: &[&str]) -> AddressGuard {
        let policy =
            OutboundPolicy { allow_list: allow_list.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        AddressGuard::from_policy(&policy).unwrap()
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|ip| SocketAddr::new(ip.parse().unwrap(), 0)).collect()
    }

    #[test]
    fn keeps_only_permitted_addresses() {
        let kept = permitted_addresses(&guard(&["127.0.0.1"]), "localhost", addrs(&["::1", "127.0.0.1"])).unwrap();
        assert_eq!(kept, addrs(&["127.0.0.1"]));
        let kept = permitted_addresses(&guard(&[]), "mixed.example", addrs(&["10.0.0.1", "93.184.215.14"])).unwrap();
        assert_eq!(kept, addrs(&["93.184.215.14"]));
    }

    #[test]
    fn refuses_when_nothing_is_permitted() {
        let err = permitted_addresses(&guard(&[]), "localhost", addrs(&["127.0.0.1", "::1"])).unwrap_err();
        assert_eq!(err.to_string(), "localhost resolves to 127.0.0.1, a loopback address");
        let err = permitted_addresses(&guard(&[]), "nowhere.example", Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "could not resolve host nowhere.example");
    }

    #[tokio::test]
    async fn resolving_localhost_is_refused() {
        let resolver = GuardedResolver::new(Arc::new(guard(&[])));
        let err = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(err) => err,
        };
        assert!(err.to_string().starts_with("localhost resolves to "), "{err}");
    }
}
