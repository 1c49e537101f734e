//! One module per resource, each exporting `router()` with its documented routes.

pub mod addresses;
pub mod agents;
pub mod appointments;
pub mod calls;
pub mod contacts;
pub mod credits;
pub mod customers;
pub mod health;
pub mod knowledge_bases;
pub mod memory;
pub mod messages;
pub mod org;
pub mod phone_numbers;
pub mod project;
pub mod simulator;
pub mod sms;
pub mod telephony;
pub mod test_sessions;
pub mod usage;
pub mod verify;
pub mod voices;
pub mod webhooks;

use serde::Deserialize;
use switchboard_domain::ids::IdKind;
use utoipa::IntoParams;

use crate::error::{ApiError, Result};

/// `after` / `limit` query parameters of every cursor-paginated list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// Page size, 1–100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The `after` cursor of a list of `kind`s: the id of the last item of the
/// previous page (empty: the first page), or a 400 naming `after` when it is
/// not one (a cursor that cannot be a position in the list is never answered
/// with an empty page).
pub fn cursor(after: Option<&str>, kind: IdKind) -> Result<Option<&str>> {
    match after.filter(|id| !id.is_empty()) {
        Some(id) if !kind.matches(id) => Err(ApiError::invalid_field(
            "after",
            format!(
                "Not a cursor of this list: pass the `next_cursor` of the previous page (a `{}_…` id).",
                kind.prefix()
            ),
        )),
        after => Ok(after),
    }
}
