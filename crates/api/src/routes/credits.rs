//! `GET /v1/credits`: the org's balance, tier, rate and limits.

use axum::extract::State;
use serde::Serialize;
use switchboard_domain::money::to_eur;
use switchboard_domain::time::iso;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AnyCaller;
use crate::error::Result;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Credits {
    /// Current balance in EUR.
    pub balance: f64,
    /// `payg`, `starter`, `growth` or `enterprise`.
    pub tier: String,
    /// Current per-minute voice rate in EUR.
    pub rate_per_minute: f64,
    /// True when a non-enterprise org is at zero credits; writes then get 402.
    pub is_paused: bool,
    /// Maximum simultaneous calls; `null` means unlimited (enterprise).
    pub concurrent_limit: Option<u32>,
    /// When prepaid credits expire; `null` if never.
    pub credits_expire_at: Option<String>,
    /// Time of the last balance change.
    pub updated_at: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_credits))
}

/// Get the org's credit balance and tier.
#[utoipa::path(get, path = "/v1/credits", tag = "Credits", responses((status = 200, body = Credits)))]
async fn get_credits(State(state): State<AppState>, AnyCaller(caller): AnyCaller) -> Result<axum::Json<Credits>> {
    // The caller's org row was read at authentication; re-read for the
    // freshest balance, and drop any copy that says otherwise.
    let org = state.store.org(&caller.org.id).await?;
    state.cache.saw_org(&org);
    Ok(axum::Json(Credits {
        balance: to_eur(org.balance),
        tier: org.tier.as_str().into(),
        rate_per_minute: to_eur(org.rate_per_minute()),
        is_paused: org.is_paused(),
        concurrent_limit: org.tier.concurrent_calls(),
        credits_expire_at: org.credits_expire_at.map(iso),
        updated_at: iso(org.balance_updated_at),
    }))
}
