//! Tokens that bind a carrier's media stream to the call its webhook accepted: minted
//! when the webhook answers, named in the stream's parameters, taken once, and gone
//! after a short while. A stream without a live token is refused.

use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

/// How long a token waits for its stream.
pub const TOKEN_TTL: Duration = Duration::from_secs(60);

/// What a token grants: one inbound call of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamGrant {
    pub org_id: String,
    pub project_id: String,
    /// The carrier's id of the call (Twilio's CallSid); the stream must name the same.
    pub carrier_call_id: String,
    pub from: String,
    pub to: String,
}

/// The tokens of this node waiting for their streams.
#[derive(Debug)]
pub struct StreamTokens {
    ttl: Duration,
    waiting: DashMap<String, (StreamGrant, Instant)>,
}

impl Default for StreamTokens {
    fn default() -> Self {
        Self::with_ttl(TOKEN_TTL)
    }
}

impl StreamTokens {
    /// Tokens that expire `ttl` after they are minted.
    pub fn with_ttl(ttl: Duration) -> Self {
        StreamTokens { ttl, waiting: DashMap::new() }
    }

    /// Mints a token for `grant`: 32 random bytes, hex.
    pub fn mint(&self, grant: StreamGrant) -> String {
        self.forget_expired();
        let token = hex::encode(rand::random::<[u8; 32]>());
        self.waiting.insert(token.clone(), (grant, Instant::now() + self.ttl));
        token
    }

    /// Takes the token: its grant if it was minted here, not taken before and not expired.
    pub fn take(&self, token: &str) -> Option<StreamGrant> {
        let (_, (grant, expires)) = self.waiting.remove(token)?;
        (Instant::now() < expires).then_some(grant)
    }

    fn forget_expired(&self) {
        let now = Instant::now();
        self.waiting.retain(|_, (_, expires)| *expires > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> StreamGrant {
        StreamGrant {
            org_id: "org_1".into(),
            project_id: "proj_1".into(),
            carrier_call_id: "CA1".into(),
            from: "+15550001111".into(),
            to: "+15550002222".into(),
        }
    }

    #[test]
    fn a_token_is_taken_once() {
        let tokens = StreamTokens::default();
        let token = tokens.mint(grant());
        assert_eq!(token.len(), 64);
        assert_ne!(token, tokens.mint(grant()));
        assert_eq!(tokens.take(&token), Some(grant()));
        assert_eq!(tokens.take(&token), None);
        assert_eq!(tokens.take("guess"), None);
    }

    #[test]
    fn an_expired_token_grants_nothing() {
        let tokens = StreamTokens::with_ttl(Duration::ZERO);
        let token = tokens.mint(grant());
        assert_eq!(tokens.take(&token), None);
    }
}
