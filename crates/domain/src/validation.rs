//! Field validation rules and the field → message map behind `VALIDATION_ERROR`.

use std::collections::BTreeMap;

/// Field name → human message, in a stable order; becomes `details` in a 400.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure for a field; the first message for a field wins.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    /// Records the error of a check, if any.
    pub fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(message) = result {
            self.add(field, message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    /// `Ok(())` when nothing failed, else the collected errors.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

pub const LANGUAGE_MESSAGE: &str = "Must be a valid BCP-47 language code.";
pub const MAX_DURATION_MESSAGE: &str = "Must be between 60 and 7200.";

/// A well-formed BCP-47 language tag (`en-US`, `nl`, `zh-Hant-TW`).
pub fn language(tag: &str) -> Result<(), String> {
    match oxilangtag::LanguageTag::parse(tag) {
        // The grammar allows 4–8 letter primary subtags, but none is registered.
        Ok(parsed) if matches!(parsed.primary_language().len(), 2 | 3) => Ok(()),
        _ => Err(LANGUAGE_MESSAGE.into()),
    }
}

/// The longest call an agent may hold, in seconds.
pub fn max_duration(seconds: i64) -> Result<(), String> {
    if (60..=7200).contains(&seconds) { Ok(()) } else { Err(MAX_DURATION_MESSAGE.into()) }
}

/// An integer within an inclusive range.
pub fn in_range(value: i64, min: i64, max: i64) -> Result<(), String> {
    if (min..=max).contains(&value) { Ok(()) } else { Err(format!("Must be between {min} and {max}.")) }
}

/// A required, trimmed-non-empty string of bounded length.
pub fn required_text(value: &str, max_chars: usize) -> Result<(), String> {
    if value.trim().is_empty() { Err("Must not be empty.".into()) } else { optional_text(value, max_chars) }
}

/// A string of bounded length.
pub fn optional_text(value: &str, max_chars: usize) -> Result<(), String> {
    if value.chars().count() > max_chars { Err(format!("Must be at most {max_chars} characters.")) } else { Ok(()) }
}

/// An absolute URL our servers will call: https, or http too when `allow_http`
/// (development). Credentials in the URL are refused so they never reach a log.
pub fn callback_url(value: &str, allow_http: bool) -> Result<(), String> {
    let message = if allow_http { "Must be an http(s) URL." } else { "Must be an https URL." };
    let Ok(url) = url::Url::parse(value) else {
        return Err(message.into());
    };
    let scheme_ok = url.scheme() == "https" || (allow_http && url.scheme() == "http");
    if !scheme_ok || url.host_str().is_none_or(str::is_empty) {
        return Err(message.into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Must not contain credentials.".into());
    }
    if value.len() > 2048 {
        return Err("Must be at most 2048 characters.".into());
    }
    Ok(())
}

/// A calendar date `YYYY-MM-DD` as the epoch-ms bounds of that UTC day.
pub fn utc_day_bounds(date: &str) -> Option<(i64, i64)> {
    let day: jiff::civil::Date = date.parse().ok()?;
    let start = day.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_millisecond();
    Some((start, start + 86_400_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        for ok in ["en-US", "nl", "de-DE", "zh-Hant-TW", "es-419"] {
            assert_eq!(language(ok), Ok(()), "{ok}");
        }
        for bad in ["", "english", "en_US", "e", "en--US", "123"] {
            assert!(language(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert!(max_duration(60).is_ok());
        assert!(max_duration(7200).is_ok());
        assert_eq!(max_duration(59), Err(MAX_DURATION_MESSAGE.into()));
        assert!(max_duration(7201).is_err());
    }

    #[test]
    fn urls() {
        assert!(callback_url("https://example.com/hook", false).is_ok());
        assert!(callback_url("http://example.com/hook", false).is_err());
        assert!(callback_url("http://127.0.0.1:9/hook", true).is_ok());
        assert!(callback_url("ftp://example.com", true).is_err());
        assert!(callback_url("not a url", true).is_err());
        assert!(callback_url("https://user:pw@example.com", false).is_err());
    }

    #[test]
    fn day_bounds() {
        assert_eq!(utc_day_bounds("2026-01-15"), Some((1_768_435_200_000, 1_768_521_600_000)));
        assert_eq!(utc_day_bounds("2026-02-30"), None);
        assert_eq!(utc_day_bounds("15-01-2026"), None);
    }

    #[test]
    fn field_errors_keep_first_message() {
        let mut errors = FieldErrors::new();
        errors.add("name", "first");
        errors.add("name", "second");
        errors.check("language", language("x"));
        let map = errors.into_map();
        assert_eq!(map["name"], "first");
        assert_eq!(map["language"], LANGUAGE_MESSAGE);
    }
}
