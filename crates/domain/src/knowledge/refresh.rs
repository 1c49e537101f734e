//! The life of a knowledge base's refreshes: its status values, when the next
//! scheduled crawl is due, and when repeated failures switch auto-refresh off.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::settings::CrawlFrequency;

/// The state of the latest crawl or document upload (Staffify §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefreshStatus {
    Idle,
    Crawling,
    Done,
    Failed,
}

impl RefreshStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            RefreshStatus::Idle => "idle",
            RefreshStatus::Crawling => "crawling",
            RefreshStatus::Done => "done",
            RefreshStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RefreshStatus::Idle, RefreshStatus::Crawling, RefreshStatus::Done, RefreshStatus::Failed]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// What the running refresh does: crawl the website or parse an uploaded document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshKind {
    Crawl,
    Upload,
}

impl RefreshKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            RefreshKind::Crawl => "crawl",
            RefreshKind::Upload => "upload",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RefreshKind::Crawl, RefreshKind::Upload].into_iter().find(|k| k.as_str() == s)
    }
}

/// Failed crawls in a row after which scheduled crawls are switched off
/// (`knowledge_base.auto_refresh_disabled`).
pub const AUTO_DISABLE_AFTER_FAILURES: i64 = 3;

/// When the next scheduled crawl is due after one that ended at `ended_at`.
pub const fn next_crawl_at(frequency: CrawlFrequency, ended_at: i64) -> i64 {
    ended_at + frequency.interval_ms()
}

/// Whether a crawl that just failed, making `consecutive_failures` in a row,
/// switches auto-refresh off. Only an enabled auto-refresh is switched off, so
/// the event fires once.
pub const fn disables_auto_refresh(consecutive_failures: i64, auto_refresh_enabled: bool) -> bool {
    auto_refresh_enabled && consecutive_failures >= AUTO_DISABLE_AFTER_FAILURES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_kinds_round_trip() {
        for s in [RefreshStatus::Idle, RefreshStatus::Crawling, RefreshStatus::Done, RefreshStatus::Failed] {
            assert_eq!(RefreshStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RefreshStatus::parse("busy"), None);
        assert_eq!(RefreshKind::parse("upload"), Some(RefreshKind::Upload));
        assert_eq!(RefreshKind::parse("x"), None);
    }

    #[test]
    fn schedule_follows_the_frequency() {
        assert_eq!(next_crawl_at(CrawlFrequency::Daily, 1_000), 1_000 + 86_400_000);
        assert_eq!(next_crawl_at(CrawlFrequency::Monthly, 0), 30 * 86_400_000);
    }

    #[test]
    fn the_third_failure_in_a_row_disables_once() {
        assert!(!disables_auto_refresh(1, true));
        assert!(!disables_auto_refresh(2, true));
        assert!(disables_auto_refresh(3, true));
        assert!(!disables_auto_refresh(4, false), "already off: no second event");
    }
}
