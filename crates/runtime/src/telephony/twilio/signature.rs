//! Twilio's request signature (`X-Twilio-Signature`): base64 of HMAC-SHA1, keyed with
//! the account's auth token, over the full URL Twilio requested followed by every POST
//! parameter as name then value, sorted by name (then value), with no separators.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The signature Twilio sends for a POST of `params` to `url`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    mac(auth_token, url, params).map(|mac| STANDARD.encode(mac.finalize().into_bytes())).unwrap_or_default()
}

/// Whether `signature` is Twilio's for this request; compared in constant time.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(expected) = STANDARD.decode(signature.trim()) else { return false };
    mac(auth_token, url, params).is_some_and(|mac| mac.verify_slice(&expected).is_ok())
}

/// The MAC over the request; `None` only if HMAC refused the key, which it never does
/// (it takes keys of any length): it exists so no code path can panic.
fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Option<HmacSha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = <HmacSha1 as Mac>::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The example of Twilio's security documentation.
    #[test]
    fn matches_twilios_documented_example() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(sign("12345", url, &params()), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        let mut reversed = params();
        reversed.reverse();
        assert!(verify("12345", url, &reversed, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="), "order does not matter");
    }

    #[test]
    fn anything_changed_fails() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let good = sign("12345", url, &params());
        assert!(!verify("12346", url, &params(), &good));
        assert!(!verify("12345", "https://mycompany.com/other", &params(), &good));
        let mut tampered = params();
        tampered[4].1 = "+18005551213".into();
        assert!(!verify("12345", url, &tampered, &good));
        assert!(!verify("12345", url, &params(), "not base64!"));
        assert!(!verify("12345", url, &params(), ""));
    }
}
