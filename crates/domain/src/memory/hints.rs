//! Identity hints: what a caller can be recognised by — the calling number
//! (ANI, with its line type), external ids (CRM id, account number…) and a
//! `customer_ref` returned earlier.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::phone::E164;

/// The kind of line an ANI belongs to, from a carrier lookup; it sets how much
/// an ANI match weighs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LineType {
    Mobile,
    Landline,
    Voip,
    #[default]
    Unknown,
}

impl LineType {
    pub const fn as_str(self) -> &'static str {
        match self {
            LineType::Mobile => "mobile",
            LineType::Landline => "landline",
            LineType::Voip => "voip",
            LineType::Unknown => "unknown",
        }
    }
}

/// What kind of identifier links a caller to a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Ani,
    ExternalId,
}

impl IdentifierKind {
    /// The name in the database and in `GET /v1/customers/:ref`.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Ani => "ani",
            IdentifierKind::ExternalId => "external_id",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ani" => Some(IdentifierKind::Ani),
            "external_id" => Some(IdentifierKind::ExternalId),
            _ => None,
        }
    }
}

/// One identifier: an ANI (`name` empty) or an external id (`name` is its key,
/// e.g. `customer_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identifier {
    pub kind: IdentifierKind,
    pub name: String,
    pub value: String,
}

/// Checked identity hints of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityHints {
    /// E.164, formatting removed.
    pub ani: Option<String>,
    pub line_type: LineType,
    pub external_ids: BTreeMap<String, String>,
    pub customer_ref: Option<String>,
}

impl IdentityHints {
    /// Whether any hint that can identify a caller is present.
    pub fn is_empty(&self) -> bool {
        self.ani.is_none() && self.external_ids.is_empty() && self.customer_ref.is_none()
    }

    /// The ANI and external ids, which can be linked to a customer.
    pub fn identifiers(&self) -> Vec<Identifier> {
        let ani = self.ani.iter().map(|value| Identifier {
            kind: IdentifierKind::Ani,
            name: String::new(),
            value: value.clone(),
        });
        let external = self.external_ids.iter().map(|(name, value)| Identifier {
            kind: IdentifierKind::ExternalId,
            name: name.clone(),
            value: value.clone(),
        });
        ani.chain(external).collect()
    }
}

/// A phone number with spaces, dashes, dots and parentheses removed, when the
/// rest is E.164 (`+14155551234`).
pub fn normalize_ani(raw: &str) -> Option<String> {
    E164::parse_loose(raw).map(E164::into_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ani_formatting_is_removed() {
        assert_eq!(normalize_ani("+14155551234").as_deref(), Some("+14155551234"));
        assert_eq!(normalize_ani("+1 (415) 555-1234").as_deref(), Some("+14155551234"));
        assert_eq!(normalize_ani("+31 6.1234.5678").as_deref(), Some("+31612345678"));
        for bad in ["4155551234", "anonymous", "+1 415 CALL ME", "", "+0123456789"] {
            assert_eq!(normalize_ani(bad), None, "{bad}");
        }
    }

    #[test]
    fn identifiers_list_ani_then_external_ids() {
        let hints = IdentityHints {
            ani: Some("+14155551234".into()),
            external_ids: BTreeMap::from([("crm_id".into(), "7".into()), ("account".into(), "A1".into())]),
            ..IdentityHints::default()
        };
        let ids = hints.identifiers();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[0], Identifier { kind: IdentifierKind::Ani, name: String::new(), value: "+14155551234".into() });
        assert_eq!(ids[1].name, "account");
        assert_eq!(ids[2], Identifier { kind: IdentifierKind::ExternalId, name: "crm_id".into(), value: "7".into() });
        assert!(!hints.is_empty());
        assert!(IdentityHints::default().is_empty());
    }

    #[test]
    fn identifier_kinds_round_trip() {
        for kind in [IdentifierKind::Ani, IdentifierKind::ExternalId] {
            assert_eq!(IdentifierKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(IdentifierKind::parse("email"), None);
    }
}
