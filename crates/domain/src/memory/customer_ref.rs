//! `customer_ref`: the opaque reference of a remembered caller. The seed shows a
//! UUID, so new references are UUIDv7 (time-ordered, 74 random bits) in the
//! usual 8-4-4-4-12 lowercase form; references are otherwise treated as opaque.

use ulid::Ulid;

/// A fresh customer reference, e.g. `0196f0c4-3a5e-7b21-9c44-5d0e8f1a2b3c`.
pub fn new_customer_ref() -> String {
    // A ULID already starts with 48 bits of milliseconds like a UUIDv7; set the
    // version (7) and variant (10) bits.
    let mut v = u128::from(Ulid::new());
    v = (v & !(0xF << 76)) | (0x7 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{v:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_uuid_v7_and_unique() {
        let a = new_customer_ref();
        let b = new_customer_ref();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12], "{a}");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{a}");
        assert!(parts[2].starts_with('7'), "version 7: {a}");
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'), "RFC 4122 variant: {a}");
    }

    #[test]
    fn references_start_with_the_current_time() {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let r = new_customer_ref().replace('-', "");
        let ms = u64::from_str_radix(&r[..12], 16).unwrap_or_default();
        assert!(ms.abs_diff(now_ms) < 60_000, "{ms} vs {now_ms}");
    }
}
