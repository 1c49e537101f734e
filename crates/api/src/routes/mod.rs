//! One module per resource, each exporting `router()` with its documented routes.

pub mod addresses;
pub mod agents;
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
pub mod test_sessions;
pub mod usage;
pub mod verify;
pub mod voices;
pub mod webhooks;

use serde::Deserialize;
use utoipa::IntoParams;

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
