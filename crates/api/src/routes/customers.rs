//! `/v1/customers/:customer_ref`: everything caller memory holds about one
//! customer of the project, and its erasure (GDPR right to be forgotten).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use switchboard_domain::memory::IntentStatus;
use switchboard_domain::memory::hints::IdentifierKind;
use switchboard_domain::memory::intents::Resolution;
use switchboard_domain::time::iso;
use switchboard_store::memory::{CustomerIdentifier, CustomerIntent, CustomerRecord, CustomerVariable, MemoryCall};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{OrNotFound, Result};
use crate::extract::Path;
use crate::state::AppState;

/// How many of the newest calls a customer view lists.
const RECENT_CALLS: i64 = 20;

/// A remembered caller.
#[derive(Serialize, ToSchema)]
pub struct Customer {
    pub customer_ref: String,
    pub created_at: String,
    /// The start or end of the customer's latest call.
    pub last_call_at: String,
    /// The ANIs and external ids that recognise this customer.
    pub identities: Vec<CustomerIdentity>,
    /// Unexpired variables by key.
    pub variables: BTreeMap<String, CustomerVariableView>,
    /// Every intent, open or closed, most recently updated first.
    pub intents: Vec<CustomerIntentView>,
    /// The 20 newest calls, newest first.
    pub recent_calls: Vec<CustomerCall>,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerIdentity {
    /// `ani` or `external_id`.
    #[serde(rename = "type")]
    pub kind: IdentifierKind,
    /// The external id's key (e.g. `customer_id`); `null` for an ANI.
    pub name: Option<String>,
    pub value: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerVariableView {
    pub value: String,
    pub source: Option<String>,
    pub ttl_seconds: i64,
    pub updated_at: String,
    /// After this the variable is forgotten.
    pub expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerIntentView {
    pub intent: String,
    pub status: IntentStatus,
    pub attempt_count: i64,
    pub resolution: Option<Resolution>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerCall {
    pub call_id: String,
    pub ani: Option<String>,
    pub dnis: Option<String>,
    pub call_start: String,
    /// `null` while the call has not ended.
    pub call_end: Option<String>,
    pub duration_seconds: Option<i64>,
}

impl From<CustomerIdentifier> for CustomerIdentity {
    fn from(i: CustomerIdentifier) -> Self {
        CustomerIdentity {
            kind: i.kind,
            name: (i.kind == IdentifierKind::ExternalId).then_some(i.name),
            value: i.value,
            created_at: iso(i.created_at),
        }
    }
}

impl From<CustomerVariable> for CustomerVariableView {
    fn from(v: CustomerVariable) -> Self {
        CustomerVariableView {
            value: v.value,
            source: v.source,
            ttl_seconds: v.ttl_seconds,
            updated_at: iso(v.updated_at),
            expires_at: iso(v.expires_at),
        }
    }
}

impl From<CustomerIntent> for CustomerIntentView {
    fn from(i: CustomerIntent) -> Self {
        CustomerIntentView {
            intent: i.intent,
            status: i.status,
            attempt_count: i.attempt_count,
            resolution: i.resolution,
            created_at: iso(i.created_at),
            updated_at: iso(i.updated_at),
        }
    }
}

impl From<MemoryCall> for CustomerCall {
    fn from(c: MemoryCall) -> Self {
        CustomerCall {
            call_id: c.call_id,
            ani: c.ani,
            dnis: c.dnis,
            call_start: iso(c.call_start),
            call_end: c.call_end.map(iso),
            duration_seconds: c.call_end.map(|end| (end - c.call_start).max(0) / 1000),
        }
    }
}

impl From<CustomerRecord> for Customer {
    fn from(r: CustomerRecord) -> Self {
        Customer {
            customer_ref: r.customer_ref,
            created_at: iso(r.created_at),
            last_call_at: iso(r.last_call_at),
            identities: r.identifiers.into_iter().map(Into::into).collect(),
            variables: r.variables.into_iter().map(|v| (v.key.clone(), v.into())).collect(),
            intents: r.intents.into_iter().map(Into::into).collect(),
            recent_calls: r.recent_calls.into_iter().map(Into::into).collect(),
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_customer, delete_customer))
}

/// Everything remembered about a customer of the project: identities,
/// unexpired variables, intents and recent calls.
#[utoipa::path(get, path = "/v1/customers/{customer_ref}", tag = "Caller memory",
    params(("customer_ref" = String, Path)), responses((status = 200, body = Customer)))]
async fn get_customer(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(customer_ref): Path<String>,
) -> Result<axum::Json<Customer>> {
    let record = state
        .store
        .memory_customer(&scope.project_id, &customer_ref, RECENT_CALLS)
        .await
        .or_not_found("Customer not found")?;
    Ok(axum::Json(record.into()))
}

/// Erase everything remembered about a customer (GDPR): identities,
/// variables, intents, calls, and stored replays of its `/v1/calls/start` and
/// `/v1/calls/end` responses. Its `call_id`s can be used again; a later call
/// from the same number is a new customer.
#[utoipa::path(delete, path = "/v1/customers/{customer_ref}", tag = "Caller memory",
    params(("customer_ref" = String, Path)), responses((status = 204, description = "Erased")))]
async fn delete_customer(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(customer_ref): Path<String>,
) -> Result<StatusCode> {
    state.store.memory_erase_customer(&scope.project_id, &customer_ref).await.or_not_found("Customer not found")?;
    Ok(StatusCode::NO_CONTENT)
}
