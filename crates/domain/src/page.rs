//! Cursor pagination rules shared by every list endpoint.

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// Resolves a requested page size: default 20, at most 100, at least 1.
pub fn resolve_limit(requested: Option<u32>) -> Result<u32, &'static str> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err("Must be between 1 and 100."),
    }
}

/// Splits one extra fetched row off a page: the page keeps `limit` rows and the
/// cursor is the last kept id when more rows exist.
pub fn split_page<T>(mut rows: Vec<T>, limit: u32, id_of: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if rows.len() > limit {
        rows.truncate(limit);
        let cursor = rows.last().map(|r| id_of(r).to_owned());
        (rows, cursor)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(resolve_limit(None), Ok(20));
        assert_eq!(resolve_limit(Some(100)), Ok(100));
        assert!(resolve_limit(Some(0)).is_err());
        assert!(resolve_limit(Some(101)).is_err());
    }

    #[test]
    fn cursor_only_when_more_rows_exist() {
        let rows = vec!["a".to_string(), "b".into(), "c".into()];
        let (page, cursor) = split_page(rows.clone(), 2, |s| s);
        assert_eq!(page, vec!["a", "b"]);
        assert_eq!(cursor.as_deref(), Some("b"));
        let (page, cursor) = split_page(rows, 3, |s| s);
        assert_eq!(page.len(), 3);
        assert_eq!(cursor, None);
    }
}
