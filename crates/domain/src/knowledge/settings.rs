//! What a client sets on a knowledge base: the create and patch bodies, their
//! defaults and validation, and how a change of `source_url` is judged.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::validation::{self, FieldErrors};

/// How often a knowledge base with a `source_url` is crawled again when
/// `auto_refresh_enabled` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrawlFrequency {
    Daily,
    Weekly,
    Monthly,
}

impl CrawlFrequency {
    pub const fn as_str(self) -> &'static str {
        match self {
            CrawlFrequency::Daily => "daily",
            CrawlFrequency::Weekly => "weekly",
            CrawlFrequency::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [CrawlFrequency::Daily, CrawlFrequency::Weekly, CrawlFrequency::Monthly].into_iter().find(|f| f.as_str() == s)
    }

    /// Time between two scheduled crawls, in milliseconds (a month is 30 days).
    pub const fn interval_ms(self) -> i64 {
        const DAY: i64 = 86_400_000;
        match self {
            CrawlFrequency::Daily => DAY,
            CrawlFrequency::Weekly => 7 * DAY,
            CrawlFrequency::Monthly => 30 * DAY,
        }
    }
}

pub const DEFAULT_MAX_DEPTH: i64 = 3;
pub const DEFAULT_MAX_PAGES: i64 = 100;
pub const MAX_DEPTH_LIMIT: i64 = 5;
pub const MAX_PAGES_LIMIT: i64 = 500;
const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1_000;

/// Everything a client can set on a knowledge base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeBaseSettings {
    pub name: String,
    pub description: Option<String>,
    pub source_url: Option<String>,
    pub crawl_frequency: CrawlFrequency,
    pub auto_refresh_enabled: bool,
    pub max_depth: i64,
    pub max_pages: i64,
}

/// The create body: only `name` is required. With a `source_url` the crawl
/// starts at once.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeBaseCreate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// A website to crawl (same site only), e.g. `https://help.example.com`.
    #[schema(pattern = "^https?://", max_length = 2048)]
    pub source_url: Option<String>,
    /// Default `weekly`.
    pub crawl_frequency: Option<CrawlFrequency>,
    /// Scheduled re-crawls per `crawl_frequency`; default true.
    pub auto_refresh_enabled: Option<bool>,
    /// Link depth followed from `source_url`, 0–5; default 3.
    #[schema(minimum = 0, maximum = 5)]
    pub max_depth: Option<i64>,
    /// Pages fetched per crawl, 1–500; default 100.
    #[schema(minimum = 1, maximum = 500)]
    pub max_pages: Option<i64>,
}

/// The partial-update body: only the fields sent change; `null` clears
/// `description` and `source_url`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeBasePatch {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
    /// A different URL deletes the crawled entries and crawls afresh; the same
    /// URL changes nothing; `null` removes the source and sets
    /// `last_refresh_status` to `idle`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "^https?://", max_length = 2048)]
    pub source_url: Option<Option<String>>,
    pub crawl_frequency: Option<CrawlFrequency>,
    pub auto_refresh_enabled: Option<bool>,
    #[schema(minimum = 0, maximum = 5)]
    pub max_depth: Option<i64>,
    #[schema(minimum = 1, maximum = 500)]
    pub max_pages: Option<i64>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl KnowledgeBaseCreate {
    /// The settings this body asks for, with defaults filled in and text trimmed.
    pub fn into_settings(self) -> KnowledgeBaseSettings {
        KnowledgeBaseSettings {
            name: self.name.trim().to_owned(),
            description: self.description,
            source_url: self.source_url.map(|u| u.trim().to_owned()),
            crawl_frequency: self.crawl_frequency.unwrap_or(CrawlFrequency::Weekly),
            auto_refresh_enabled: self.auto_refresh_enabled.unwrap_or(true),
            max_depth: self.max_depth.unwrap_or(DEFAULT_MAX_DEPTH),
            max_pages: self.max_pages.unwrap_or(DEFAULT_MAX_PAGES),
        }
    }
}

impl KnowledgeBasePatch {
    /// The settings after this patch.
    pub fn apply(self, current: &KnowledgeBaseSettings) -> KnowledgeBaseSettings {
        let mut next = current.clone();
        if let Some(name) = self.name {
            next.name = name.trim().to_owned();
        }
        if let Some(description) = self.description {
            next.description = description;
        }
        if let Some(source_url) = self.source_url {
            next.source_url = source_url.map(|u| u.trim().to_owned());
        }
        if let Some(frequency) = self.crawl_frequency {
            next.crawl_frequency = frequency;
        }
        if let Some(enabled) = self.auto_refresh_enabled {
            next.auto_refresh_enabled = enabled;
        }
        if let Some(depth) = self.max_depth {
            next.max_depth = depth;
        }
        if let Some(pages) = self.max_pages {
            next.max_pages = pages;
        }
        next
    }
}

impl KnowledgeBaseSettings {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        errors.check("name", validation::required_text(&self.name, NAME_MAX));
        if let Some(description) = &self.description {
            errors.check("description", validation::optional_text(description, DESCRIPTION_MAX));
        }
        if let Some(url) = &self.source_url {
            // Websites may be plain http; the outbound client still refuses
            // private addresses unless the server runs in development mode.
            errors.check("source_url", validation::callback_url(url, true));
        }
        errors.check("max_depth", validation::in_range(self.max_depth, 0, MAX_DEPTH_LIMIT));
        errors.check("max_pages", validation::in_range(self.max_pages, 1, MAX_PAGES_LIMIT));
        errors.finish()
    }
}

/// What a new `source_url` means for the crawled entries (Staffify §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceChange {
    /// Same URL (or still none): no re-crawl, no deletion.
    Unchanged,
    /// A different URL: crawled entries are deleted, then a fresh crawl runs.
    Replaced,
    /// `null`: the source is removed and the refresh status becomes `idle`.
    Removed,
}

/// Judges a `source_url` change; URLs that differ only in spelling (case of
/// the host, a trailing root slash, a default port) are the same URL.
pub fn source_change(before: Option<&str>, after: Option<&str>) -> SourceChange {
    match (before, after) {
        (_, None) if before.is_none() => SourceChange::Unchanged,
        (_, None) => SourceChange::Removed,
        (Some(a), Some(b)) if same_url(a, b) => SourceChange::Unchanged,
        (_, Some(_)) => SourceChange::Replaced,
    }
}

fn same_url(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> KnowledgeBaseSettings {
        KnowledgeBaseCreate { name: " FAQ ".into(), ..Default::default() }.into_settings()
    }

    #[test]
    fn defaults_are_valid_and_trimmed() {
        let s = settings();
        assert_eq!(s.name, "FAQ");
        assert_eq!(s.crawl_frequency, CrawlFrequency::Weekly);
        assert!(s.auto_refresh_enabled);
        assert_eq!((s.max_depth, s.max_pages), (3, 100));
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut s = settings();
        s.name = "  ".into();
        s.source_url = Some("ftp://example.com".into());
        s.max_depth = 6;
        s.max_pages = 0;
        let errors = s.validate().unwrap_err().into_map();
        assert_eq!(errors["max_depth"], "Must be between 0 and 5.");
        assert_eq!(errors["max_pages"], "Must be between 1 and 500.");
        assert!(errors.contains_key("name") && errors.contains_key("source_url"));
        s = settings();
        s.source_url = Some("http://help.example.com".into());
        assert_eq!(s.validate(), Ok(()), "plain http websites are allowed");
    }

    #[test]
    fn frequencies_parse_and_refuse_unknown_values() {
        assert_eq!(CrawlFrequency::parse("monthly"), Some(CrawlFrequency::Monthly));
        assert_eq!(CrawlFrequency::parse("hourly"), None);
        assert!(serde_json::from_str::<KnowledgeBaseCreate>(r#"{"name":"a","crawl_frequency":"hourly"}"#).is_err());
        assert_eq!(CrawlFrequency::Daily.interval_ms() * 7, CrawlFrequency::Weekly.interval_ms());
    }

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let mut s = settings();
        s.source_url = Some("https://a.example".into());
        s.description = Some("d".into());
        let patch: KnowledgeBasePatch = serde_json::from_str(r#"{"max_pages": 7}"#).unwrap();
        let next = patch.apply(&s);
        assert_eq!(next.source_url, s.source_url);
        assert_eq!(next.max_pages, 7);
        let patch: KnowledgeBasePatch = serde_json::from_str(r#"{"source_url": null, "description": null}"#).unwrap();
        let next = patch.apply(&s);
        assert_eq!((next.source_url, next.description), (None, None));
        assert!(serde_json::from_str::<KnowledgeBasePatch>(r#"{"sourceUrl": "x"}"#).is_err());
    }

    #[test]
    fn source_url_rules() {
        use SourceChange::*;
        assert_eq!(source_change(None, None), Unchanged);
        assert_eq!(source_change(Some("https://a.example/"), Some("https://A.example")), Unchanged);
        assert_eq!(source_change(Some("https://a.example"), Some("https://a.example:443/")), Unchanged);
        assert_eq!(source_change(Some("https://a.example"), Some("https://b.example")), Replaced);
        assert_eq!(source_change(None, Some("https://b.example")), Replaced);
        assert_eq!(source_change(Some("https://a.example"), None), Removed);
    }
}
