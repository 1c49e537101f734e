//! Request signing for webhooks and server_url calls: the seed-style `X-Switchboard-*` scheme and
//! Standard Webhooks, both from one `whsec_` secret (DESIGN §1 "Webhook signatures").

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, Mac};
use http::{HeaderName, HeaderValue};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// `X-Switchboard-Timestamp`: unix seconds, covered by `X-Switchboard-Signature`.
pub const SWITCHBOARD_TIMESTAMP_HEADER: &str = "x-switchboard-timestamp";
/// `X-Switchboard-Signature`: `sha256=<hex HMAC-SHA256(secret string, timestamp + "." + body)>`.
pub const SWITCHBOARD_SIGNATURE_HEADER: &str = "x-switchboard-signature";
/// Standard Webhooks message id.
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// Standard Webhooks timestamp (unix seconds).
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Standard Webhooks signatures: space-separated `v1,<base64>` entries.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";
/// Prefix of every signing secret (`whsec_` + base64 of the key bytes).
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a signed timestamp may be from the receiver's clock, both ways.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Base64 that accepts the key with or without padding, as the reference libraries do.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a request could not be signed. Messages never include the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The secret is not `whsec_` followed by non-empty base64.
    #[error("the signing secret is not a valid whsec_ secret")]
    InvalidSecret,
    /// The message id is empty or not a valid header value.
    #[error("the message id is empty or not a valid header value")]
    InvalidMessageId,
}

/// The five signature headers of one request: `X-Switchboard-Timestamp`,
/// `X-Switchboard-Signature`, `webhook-id`, `webhook-timestamp`, `webhook-signature`.
/// `body` must be the exact bytes sent.
pub fn signature_headers(
    secret: &str,
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<Vec<(HeaderName, String)>, SigningError> {
    if message_id.is_empty() || HeaderValue::from_str(message_id).is_err() {
        return Err(SigningError::InvalidMessageId);
    }
    let standard_key = standard_key(secret).ok_or(SigningError::InvalidSecret)?;
    let switchboard_mac = switchboard_hmac(secret, timestamp, body).ok_or(SigningError::InvalidSecret)?;
    let standard_mac = standard_hmac(&standard_key, message_id, timestamp, body).ok_or(SigningError::InvalidSecret)?;
    let switchboard = format!("sha256={}", hex::encode(switchboard_mac.finalize().into_bytes()));
    let standard = format!("v1,{}", STANDARD.encode(standard_mac.finalize().into_bytes()));
    Ok(vec![
        (HeaderName::from_static(SWITCHBOARD_TIMESTAMP_HEADER), timestamp.to_string()),
        (HeaderName::from_static(SWITCHBOARD_SIGNATURE_HEADER), switchboard),
        (HeaderName::from_static(WEBHOOK_ID_HEADER), message_id.to_owned()),
        (HeaderName::from_static(WEBHOOK_TIMESTAMP_HEADER), timestamp.to_string()),
        (HeaderName::from_static(WEBHOOK_SIGNATURE_HEADER), standard),
    ])
}

/// Verifies the `X-Switchboard-*` pair as a receiver would: the timestamp is within
/// `tolerance_secs` of `now` and the signature (`sha256=<hex>`) matches, compared in constant time.
pub fn verify_switchboard(
    secret: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let Some(timestamp) = timestamp_within(timestamp_header, now, tolerance_secs) else {
        return false;
    };
    let hex_signature = signature_header.trim().strip_prefix("sha256=").unwrap_or(signature_header.trim());
    let Ok(signature) = hex::decode(hex_signature) else {
        return false;
    };
    switchboard_hmac(secret, timestamp, body).is_some_and(|mac| mac.verify_slice(&signature).is_ok())
}

/// Verifies Standard Webhooks headers as a receiver would: the timestamp is within
/// `tolerance_secs` of `now` and at least one `v1,<base64>` entry of `signature_header`
/// matches, compared in constant time.
pub fn verify_standard(
    secret: &str,
    id: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let Some(key) = standard_key(secret) else {
        return false;
    };
    let Some(timestamp) = timestamp_within(timestamp_header, now, tolerance_secs) else {
        return false;
    };
    let Some(expected) = standard_hmac(&key, id, timestamp, body) else {
        return false;
    };
    signature_header
        .split_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, signature)| STANDARD.decode(signature).ok())
        .any(|signature| expected.clone().verify_slice(&signature).is_ok())
}

/// The HMAC key of the Standard Webhooks scheme: the base64 after `whsec_` (bare base64 is
/// accepted too, as the reference libraries do). `None` when it is not base64 or empty.
fn standard_key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    LENIENT_BASE64.decode(encoded).ok().filter(|key| !key.is_empty())
}

/// The parsed timestamp when it lies within `tolerance_secs` of `now`.
fn timestamp_within(timestamp_header: &str, now: i64, tolerance_secs: i64) -> Option<i64> {
    let timestamp: i64 = timestamp_header.trim().parse().ok()?;
    let tolerance = u64::try_from(tolerance_secs).unwrap_or(0);
    (now.abs_diff(timestamp) <= tolerance).then_some(timestamp)
}

/// HMAC-SHA256 of the concatenated `parts`. HMAC takes keys of any length, so `None` is
/// unreachable in practice; it exists so no code path can panic.
fn hmac_over(key: &[u8], parts: &[&[u8]]) -> Option<HmacSha256> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac)
}

/// The seed-style MAC: keyed with the secret string's UTF-8 bytes, over `timestamp.body`.
fn switchboard_hmac(secret: &str, timestamp: i64, body: &[u8]) -> Option<HmacSha256> {
    hmac_over(secret.as_bytes(), &[timestamp.to_string().as_bytes(), b".", body])
}

/// The Standard Webhooks MAC: keyed with the decoded key, over `id.timestamp.body`.
fn standard_hmac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Option<HmacSha256> {
    hmac_over(key, &[id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", body])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn header<'a>(headers: &'a [(HeaderName, String)], name: &str) -> &'a str {
        headers.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v.as_str()).unwrap()
    }

    #[test]
    fn matches_the_svix_reference_vector() {
        // svix-webhooks go/webhook_test.go, TestWebhookSign.
        let headers = signature_headers(SECRET, ID, TIMESTAMP, BODY).unwrap();
        assert_eq!(header(&headers, WEBHOOK_SIGNATURE_HEADER), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(header(&headers, WEBHOOK_ID_HEADER), ID);
        assert_eq!(header(&headers, WEBHOOK_TIMESTAMP_HEADER), "1614265330");
        assert!(verify_standard(
            SECRET,
            ID,
            "1614265330",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            BODY,
            TIMESTAMP,
            DEFAULT_TOLERANCE_SECS
        ));
    }

    #[test]
    fn matches_the_standard_webhooks_rust_library_vector() {
        // standard-webhooks libraries/rust/src/lib.rs, test_sign.
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let headers = signature_headers(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            body,
        )
        .unwrap();
        assert_eq!(header(&headers, WEBHOOK_SIGNATURE_HEADER), "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn switchboard_signature_is_keyed_with_the_secret_string() {
        let headers = signature_headers(SECRET, ID, TIMESTAMP, BODY).unwrap();
        let mut mac = <HmacSha256 as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(b"1614265330.{\"test\": 2432232314}");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(header(&headers, SWITCHBOARD_SIGNATURE_HEADER), expected);
        assert_eq!(header(&headers, SWITCHBOARD_TIMESTAMP_HEADER), "1614265330");
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                SWITCHBOARD_TIMESTAMP_HEADER,
                SWITCHBOARD_SIGNATURE_HEADER,
                WEBHOOK_ID_HEADER,
                WEBHOOK_TIMESTAMP_HEADER,
                WEBHOOK_SIGNATURE_HEADER
            ]
        );
    }

    #[test]
    fn round_trip_verifies_with_both_schemes() {
        let now = 1_700_000_000;
        let headers = signature_headers(SECRET, "whe_1", now, b"{\"a\":1}").unwrap();
        let (ts, sig) =
            (header(&headers, SWITCHBOARD_TIMESTAMP_HEADER), header(&headers, SWITCHBOARD_SIGNATURE_HEADER));
        assert!(verify_switchboard(SECRET, ts, sig, b"{\"a\":1}", now + 10, DEFAULT_TOLERANCE_SECS));
        let (id, wts, wsig) = (
            header(&headers, WEBHOOK_ID_HEADER),
            header(&headers, WEBHOOK_TIMESTAMP_HEADER),
            header(&headers, WEBHOOK_SIGNATURE_HEADER),
        );
        assert!(verify_standard(SECRET, id, wts, wsig, b"{\"a\":1}", now - 10, DEFAULT_TOLERANCE_SECS));
    }

    #[test]
    fn tampering_fails_verification() {
        let now = 1_700_000_000;
        let body = b"{\"a\":1}";
        let headers = signature_headers(SECRET, "whe_1", now, body).unwrap();
        let ts = header(&headers, SWITCHBOARD_TIMESTAMP_HEADER);
        let sig = header(&headers, SWITCHBOARD_SIGNATURE_HEADER);
        let wsig = header(&headers, WEBHOOK_SIGNATURE_HEADER);
        let tolerance = DEFAULT_TOLERANCE_SECS;

        // Switchboard scheme: body, timestamp, secret, signature format.
        assert!(!verify_switchboard(SECRET, ts, sig, b"{\"a\":2}", now, tolerance));
        assert!(!verify_switchboard(SECRET, "1700000001", sig, body, now, tolerance));
        assert!(!verify_switchboard("whsec_other", ts, sig, body, now, tolerance));
        assert!(!verify_switchboard(SECRET, ts, "sha256=zz", body, now, tolerance));
        assert!(!verify_switchboard(SECRET, "yesterday", sig, body, now, tolerance));

        // Standard Webhooks: body, timestamp, id, secret.
        assert!(!verify_standard(SECRET, "whe_1", ts, wsig, b"{\"a\":2}", now, tolerance));
        assert!(!verify_standard(SECRET, "whe_1", "1700000001", wsig, body, now, tolerance));
        assert!(!verify_standard(SECRET, "whe_2", ts, wsig, body, now, tolerance));
        assert!(!verify_standard("whsec_dGVzdC1rZXktYnl0ZXM=", "whe_1", ts, wsig, body, now, tolerance));
        assert!(!verify_standard(SECRET, "whe_1", ts, "v1,", body, now, tolerance));
        assert!(!verify_standard(SECRET, "whe_1", ts, &wsig.replacen("v1,", "v2,", 1), body, now, tolerance));
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_rejected() {
        let signed_at = 1_700_000_000;
        let headers = signature_headers(SECRET, "whe_1", signed_at, b"x").unwrap();
        let ts = header(&headers, SWITCHBOARD_TIMESTAMP_HEADER);
        let sig = header(&headers, SWITCHBOARD_SIGNATURE_HEADER);
        let wsig = header(&headers, WEBHOOK_SIGNATURE_HEADER);
        for now in [signed_at + 300, signed_at - 300] {
            assert!(verify_switchboard(SECRET, ts, sig, b"x", now, DEFAULT_TOLERANCE_SECS));
            assert!(verify_standard(SECRET, "whe_1", ts, wsig, b"x", now, DEFAULT_TOLERANCE_SECS));
        }
        for now in [signed_at + 301, signed_at - 301] {
            assert!(!verify_switchboard(SECRET, ts, sig, b"x", now, DEFAULT_TOLERANCE_SECS));
            assert!(!verify_standard(SECRET, "whe_1", ts, wsig, b"x", now, DEFAULT_TOLERANCE_SECS));
        }
    }

    #[test]
    fn any_matching_entry_of_a_multi_signature_header_verifies() {
        let now = 1_700_000_000;
        let headers = signature_headers(SECRET, "whe_1", now, b"x").unwrap();
        let valid = header(&headers, WEBHOOK_SIGNATURE_HEADER);
        let rotated = format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {valid}"
        );
        assert!(verify_standard(SECRET, "whe_1", &now.to_string(), &rotated, b"x", now, DEFAULT_TOLERANCE_SECS));
        let none_valid = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,bm90LWEtc2lnbmF0dXJl";
        assert!(!verify_standard(SECRET, "whe_1", &now.to_string(), none_valid, b"x", now, DEFAULT_TOLERANCE_SECS));
    }

    #[test]
    fn bad_secrets_and_ids_are_refused_without_echoing_them() {
        let err = signature_headers("whsec_not base64!", "whe_1", 0, b"").unwrap_err();
        assert_eq!(err, SigningError::InvalidSecret);
        assert!(!err.to_string().contains("not base64"));
        assert_eq!(signature_headers("whsec_", "whe_1", 0, b""), Err(SigningError::InvalidSecret));
        assert_eq!(signature_headers(SECRET, "", 0, b""), Err(SigningError::InvalidMessageId));
        assert_eq!(signature_headers(SECRET, "bad\nid", 0, b""), Err(SigningError::InvalidMessageId));
        assert!(!verify_standard("whsec_!!", "whe_1", "0", "v1,AAAA", b"", 0, DEFAULT_TOLERANCE_SECS));
    }

    #[test]
    fn unprefixed_base64_secret_is_accepted_like_the_reference_libraries() {
        let prefixed = signature_headers(SECRET, ID, TIMESTAMP, BODY).unwrap();
        let bare = signature_headers("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ID, TIMESTAMP, BODY).unwrap();
        assert_eq!(header(&prefixed, WEBHOOK_SIGNATURE_HEADER), header(&bare, WEBHOOK_SIGNATURE_HEADER));
    }
}
