//! Authentication and authorization: who is calling (the key, its org and
//! project), the per-org rate limit with its headers, and the write gates
//! (read-only keys, paused orgs).

pub mod failures;
pub mod key_use;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use switchboard_domain::keys::{self, KeyKind, KeyScope};
use switchboard_domain::tier::{Tier, UNLIMITED_LABEL};
use switchboard_store::orgs::OrgRow;

use crate::error::ApiError;
use crate::listener::PeerAddr;
use crate::ratelimit::{Allowance, Decision};
use crate::routes::memory;
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub kind: KeyKind,
    pub scope: KeyScope,
    /// As cached: changes made through this process or announced by another
    /// node are seen at once, others within the cache TTL.
    pub org: Arc<OrgRow>,
    /// The project acted on: the key's own, or an org key's `X-Project-Id`.
    pub project_id: Option<String>,
}

/// The rate-limit headers of an authenticated response.
#[derive(Debug, Clone, Copy)]
pub struct RateHeaders {
    tier: Tier,
    decision: Option<Decision>,
    now_ms: i64,
}

impl RateHeaders {
    /// How the request was counted, for tiers with a limit.
    pub fn decision(&self) -> Option<Decision> {
        self.decision
    }

    /// When the request was counted, epoch ms.
    pub fn counted_at_ms(&self) -> i64 {
        self.now_ms
    }

    pub fn apply(&self, headers: &mut HeaderMap) {
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        if let Some(d) = self.decision {
            set("x-ratelimit-limit", d.limit.to_string());
            set("x-ratelimit-remaining", d.remaining.to_string());
            set("x-ratelimit-reset", (self.now_ms / 1000 + d.reset_after() as i64).to_string());
        }
        set("x-ratelimit-tier", self.tier.as_str().to_owned());
        set(
            "x-concurrent-call-limit",
            self.tier.concurrent_calls().map_or_else(|| UNLIMITED_LABEL.to_owned(), |n| n.to_string()),
        );
    }
}

/// The key presented by a request, from `Authorization: Bearer` or `X-Api-Key`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)).filter(|k| !k.is_empty())
}

/// Whether a key header was sent whose value is not text (bytes over 0x7F,
/// which HTTP lets through): a key was presented, but cannot be one.
fn unreadable_key(headers: &HeaderMap) -> bool {
    let unreadable = |value: Option<&HeaderValue>| value.is_some_and(|v| v.to_str().is_err());
    unreadable(headers.get(axum::http::header::AUTHORIZATION)) || unreadable(headers.get("x-api-key"))
}

/// Whether the request carries any key at all.
pub fn has_key(headers: &HeaderMap) -> bool {
    presented_key(headers).is_some()
}

fn invalid_key() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "INVALID_API_KEY", "The API key provided is invalid or has been revoked.")
}

/// Identifies the caller and counts the request against its org's rate limit.
/// On failure, the error comes with the rate headers when the caller was known.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    ip: IpAddr,
    allowance: Allowance,
) -> Result<(Caller, RateHeaders), (ApiError, Option<RateHeaders>)> {
    let Some(raw) = presented_key(headers) else {
        // Like a malformed key: refused without a lookup, and not counted.
        if unreadable_key(headers) {
            return Err((invalid_key(), None));
        }
        return Err((
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "MISSING_API_KEY",
                "No API key found: send Authorization: Bearer <key> or X-Api-Key.",
            ),
            None,
        ));
    };
    // Malformed keys are refused before any lookup and are not counted.
    let Some(kind) = keys::check_format(raw) else {
        return Err((invalid_key(), None));
    };
    // Guesses at one key stop here, from whichever address they come.
    let head = failures::key_head(raw, kind);
    if let Some(wait) = state.auth_failures.head_locked_for(head) {
        return Err((auth_rate_limited("Too many failed authentication attempts with this key.", wait), None));
    }
    // The key is looked up before the address's lock-out is consulted, so a
    // valid key gets through even from an address that sent many bad ones.
    let (key, org) = match state.cache.key(&state.store, &keys::hash(raw)).await {
        Ok((key, org)) if key.kind == kind => (key, org),
        Ok(_) | Err(switchboard_store::Error::NotFound) => {
            let locked = state.auth_failures.locked_for(ip);
            state.auth_failures.record(ip, head);
            let err = match locked {
                Some(wait) => auth_rate_limited("Too many failed authentication attempts from this IP.", wait),
                None => invalid_key(),
            };
            return Err((err, None));
        }
        Err(other) => return Err((ApiError::from(other), None)),
    };
    let now_ms = state.store.clock().now_ms();
    state.key_use.touch(&key.id, now_ms);
    let tier = org.tier;
    let decision = state.limiter.check(&org.id, tier, allowance).await;
    let rate = RateHeaders { tier, decision, now_ms };
    if let Some(d) = decision.filter(|d| !d.allowed) {
        let err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, RATE_LIMIT_EXCEEDED, "Rate limit exceeded")
            .with_retry_after(d.retry_after);
        return Err((err, Some(rate)));
    }
    let project_id = match kind {
        KeyKind::Project => key.project_id.clone(),
        KeyKind::Org => match headers.get("x-project-id").map(|v| v.to_str().map(str::trim)) {
            None => None,
            Some(Ok(id)) if !id.is_empty() => match state.store.project(&org.id, id).await {
                Ok(project) => Some(project.id),
                Err(switchboard_store::Error::NotFound) => {
                    return Err((project_not_found(), Some(rate)));
                }
                Err(other) => return Err((ApiError::from(other), Some(rate))),
            },
            Some(_) => return Err((project_not_found(), Some(rate))),
        },
    };
    let caller = Caller { key_id: key.id.clone(), kind, scope: key.scope, org, project_id };
    Ok((caller, rate))
}

/// The code of a 429 for the org's per-minute limit.
pub const RATE_LIMIT_EXCEEDED: &str = "RATE_LIMIT_EXCEEDED";

/// 429 `AUTH_RATE_LIMITED`, with the seconds until the lock-out ends.
fn auth_rate_limited(message: &str, wait: u64) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "AUTH_RATE_LIMITED", message).with_retry_after(wait)
}

fn project_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "PROJECT_NOT_FOUND", "The project in X-Project-Id does not exist.")
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The peer address of a request; loopback when the server was not told.
pub fn client_ip(req_extensions: &axum::http::Extensions) -> IpAddr {
    req_extensions
        .get::<ConnectInfo<PeerAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ConnectInfo(PeerAddr(addr))| addr.ip())
}

/// Middleware for every authenticated route: authenticates, rate-limits, applies
/// the write gates, and stamps the rate-limit headers on the response. After a
/// write, the org's cached agents are dropped here and on every other node
/// before the response leaves.
pub async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = client_ip(req.extensions());
    let sticky = req.extensions().get::<MatchedPath>().is_some_and(|path| memory::is_sticky_route(path.as_str()));
    let allowance = if sticky { Allowance::Grace } else { Allowance::Standard };
    let render = |err: ApiError, rate: Option<RateHeaders>| {
        let mut response = if sticky { memory::sticky_auth_error(err, rate) } else { err.into_response() };
        if let Some(rate) = rate {
            rate.apply(response.headers_mut());
        }
        response
    };
    let (caller, rate) = match authenticate(&state, req.headers(), ip, allowance).await {
        Ok(ok) => ok,
        Err((err, rate)) => return render(err, rate),
    };
    if is_write(req.method()) {
        let gate = if caller.scope == KeyScope::Read {
            Some(ApiError::new(StatusCode::FORBIDDEN, "READ_ONLY_KEY", "This API key is read-only."))
        } else if caller.org.is_paused() {
            Some(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "INSUFFICIENT_CREDITS",
                "Account paused due to insufficient credits.",
            ))
        } else {
            None
        };
        if let Some(err) = gate {
            return render(err, Some(rate));
        }
    }
    let wrote = is_write(req.method()).then(|| Arc::clone(&caller.org));
    req.extensions_mut().insert(caller);
    let mut response = next.run(req).await;
    if let Some(org) = wrote {
        state.cache.org_wrote(&org.id);
        state.cache.told_others().await;
    }
    rate.apply(response.headers_mut());
    response
}

fn caller_of(parts: &Parts) -> Result<Caller, ApiError> {
    parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::internal("route without authentication"))
}

/// Any authenticated caller, project-scoped or not.
pub struct AnyCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for AnyCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        caller_of(parts).map(AnyCaller)
    }
}

/// A caller acting on one project: a project key, or an org key with
/// `X-Project-Id`.
pub struct ProjectScope {
    pub caller: Caller,
    pub project_id: String,
}

impl ProjectScope {
    pub fn org_id(&self) -> &str {
        &self.caller.org.id
    }

    /// The tenant the services scope this request's work to.
    pub fn tenant(&self) -> switchboard_runtime::call::service::Tenant<'_> {
        switchboard_runtime::call::service::Tenant { org_id: self.org_id(), project_id: &self.project_id }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ProjectScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let caller = caller_of(parts)?;
        let Some(project_id) = caller.project_id.clone() else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "PROJECT_ID_REQUIRED",
                "An org key needs the X-Project-Id header to act on project resources.",
            ));
        };
        Ok(ProjectScope { caller, project_id })
    }
}

/// A caller holding an org-level key.
pub struct OrgScope(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for OrgScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let caller = caller_of(parts)?;
        if caller.kind != KeyKind::Org {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "ORG_KEY_REQUIRED",
                "This endpoint requires an org-level API key.",
            ));
        }
        Ok(OrgScope(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_either_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_key(&headers), None);
        headers.insert("x-api-key", HeaderValue::from_static("sb_live_x"));
        assert_eq!(presented_key(&headers), Some("sb_live_x"));
        headers.insert("authorization", HeaderValue::from_static("Bearer sb_org_y"));
        assert_eq!(presented_key(&headers), Some("sb_org_y"));
        headers.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(presented_key(&headers), Some("sb_live_x"));
    }
}
