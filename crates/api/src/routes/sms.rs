//! `POST /v1/sms`: one text message, its sender and price decided by the
//! destination country (Staffify §11), paid from the org's credits.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use switchboard_domain::money::to_eur;
use switchboard_domain::phone::{self, E164};
use switchboard_domain::sms::{self, DEFAULT_SENDER_NAME, SenderType};
use switchboard_domain::time::iso;
use switchboard_domain::validation::FieldErrors;
use switchboard_runtime::messaging::{SentSms, SmsError};
use switchboard_store::sms::{NewSms, SmsRow};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, ErrorBody, Result};
use crate::extract::Json;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsSend {
    /// The recipient, E.164. Its country decides the sender and the price:
    /// US/CA long code EUR 0.02; UK/AU alphanumeric EUR 0.09; EU alphanumeric EUR 0.14.
    pub to: String,
    /// The text, at most 160 characters.
    #[schema(min_length = 1, max_length = 160)]
    pub message: String,
    /// Required for US/CA: a live number of this project (E.164). Ignored elsewhere.
    pub from_number: Option<String>,
    /// The brand name shown for EU/UK/AU: 1–11 letters, digits and spaces, at
    /// least one letter; default `"Switchboard"`. Ignored for US/CA.
    #[schema(min_length = 1, max_length = 11)]
    pub sender_name: Option<String>,
}

/// A sent SMS.
#[derive(Serialize, ToSchema)]
pub struct SmsSent {
    pub success: bool,
    /// The SMS id (`sms_…`).
    pub message_id: String,
    pub to: String,
    /// ISO 3166-1 alpha-2 country of `to`.
    pub country: String,
    /// `alphanumeric` (EU/UK/AU) or `long_code` (US/CA).
    pub sender_type: SenderType,
    /// The sender shown: the `from_number` (long code) or the sender name.
    pub from: String,
    /// The price debited from the org's credits, EUR.
    pub cost_eur: f64,
    /// The contact whose conversation the message joined, when `to` is a contact's phone.
    pub contact_id: Option<String>,
    pub created_at: String,
}

impl SmsSent {
    fn view(row: SmsRow, contact_id: Option<String>) -> Self {
        SmsSent {
            success: true,
            from: row.from_number.or(row.sender_name).unwrap_or_default(),
            message_id: row.id,
            to: row.to,
            country: row.country,
            sender_type: row.sender_type,
            cost_eur: to_eur(row.cost),
            contact_id,
            created_at: iso(row.created_at),
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send_sms))
}

/// What an SMS needs besides its text: its route and sender.
pub(crate) struct Routed {
    pub route: sms::SmsRoute,
    pub from_number: Option<String>,
    pub sender_name: Option<String>,
}

/// The route of an SMS to `to`: 400 `UNSUPPORTED_COUNTRY` for destinations
/// outside the US, Canada, the UK, Australia and the EU.
pub(crate) fn route(to: &str) -> Result<sms::SmsRoute> {
    sms::route(to).map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED_COUNTRY", message))
}

/// Sends the SMS through the runtime: 402 `INSUFFICIENT_CREDITS` when the
/// balance cannot pay it, 422 `DELIVERY_FAILED` (refunded) when the channel
/// refuses it.
pub(crate) async fn deliver(state: &AppState, new: &NewSms) -> Result<SentSms> {
    state.channels.send_sms(&state.store, new).await.map_err(|err| match err {
        SmsError::InsufficientCredits => {
            ApiError::new(StatusCode::PAYMENT_REQUIRED, "INSUFFICIENT_CREDITS", err.to_string())
        }
        SmsError::Refused(refused) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "DELIVERY_FAILED", refused.to_string())
        }
        SmsError::Store(store) => store.into(),
    })
}

/// Checks the sender of a message on `route`: a live US/CA number of the
/// project for long codes, a valid (or the default) name for alphanumeric.
pub(crate) async fn sender(
    state: &AppState,
    project_id: &str,
    route: sms::SmsRoute,
    from_number: Option<String>,
    sender_name: Option<String>,
) -> Result<Routed> {
    match route.sender_type {
        SenderType::LongCode => {
            let Some(from) = from_number else {
                return Err(ApiError::invalid_field("from_number", "Required for messages to the US and Canada."));
            };
            let local = matches!(phone::country_of(&from).as_deref(), Some("US" | "CA"));
            if !local || state.store.live_number(project_id, &from).await?.is_none() {
                return Err(ApiError::invalid_field(
                    "from_number",
                    "Must be a live US or Canadian number of this project.",
                ));
            }
            Ok(Routed { route, from_number: Some(from), sender_name: None })
        }
        SenderType::Alphanumeric => Ok(Routed {
            route,
            from_number: None,
            sender_name: Some(sender_name.unwrap_or_else(|| DEFAULT_SENDER_NAME.to_owned())),
        }),
    }
}

/// Send an SMS. The sender follows from the destination country: US and
/// Canada get a long code (`from_number`, a live number of the project,
/// required), the EU, UK and Australia an alphanumeric sender (`sender_name`,
/// default `"Switchboard"`; `from_number` is ignored). Other countries are
/// refused with 400 `UNSUPPORTED_COUNTRY`. The price (EUR 0.02 US/CA, 0.09
/// UK/AU, 0.14 EU) is debited from the org's credits with the message; an
/// `sms.sent` webhook event follows. When `to` is a contact's phone, the
/// message joins that contact's conversation. On the simulated carrier (the
/// default SMS provider) messages to `+31600000009` are refused, to exercise
/// 422 `DELIVERY_FAILED`.
#[utoipa::path(post, path = "/v1/sms", tag = "SMS", request_body = SmsSend,
    responses((status = 201, body = SmsSent),
        (status = 400, description = "`VALIDATION_ERROR` (`to`, `message` over 160 characters, `sender_name`, \
            `from_number` missing or not a live US/CA number of the project) or `UNSUPPORTED_COUNTRY`", body = ErrorBody),
        (status = 402, description = "`INSUFFICIENT_CREDITS`: the balance cannot pay the message, or the org is paused",
            body = ErrorBody),
        (status = 422, description = "`DELIVERY_FAILED`: the SMS provider refused the message (it is refunded)",
            body = ErrorBody)))]
async fn send_sms(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<SmsSend>,
) -> Result<impl IntoResponse> {
    let mut errors = FieldErrors::new();
    if E164::parse(&body.to).is_none() {
        errors.add("to", "Must be an E.164 phone number, e.g. +31612345678.");
    }
    errors.check("message", sms::check_message(&body.message));
    if let Some(name) = &body.sender_name {
        errors.check("sender_name", sms::check_sender_name(name));
    }
    if body.from_number.as_deref().is_some_and(|n| E164::parse(n).is_none()) {
        errors.add("from_number", "Must be an E.164 phone number.");
    }
    errors.finish().map_err(ApiError::validation)?;
    let route = route(&body.to)?;
    let routed = sender(&state, &scope.project_id, route, body.from_number, body.sender_name).await?;
    let new = NewSms {
        org_id: scope.org_id().to_owned(),
        project_id: scope.project_id.clone(),
        agent_id: None,
        to: body.to,
        from_number: routed.from_number,
        sender_name: routed.sender_name,
        sender_type: routed.route.sender_type,
        country: routed.route.country,
        body: body.message,
        price: routed.route.price,
        conversation: None,
    };
    let sent = deliver(&state, &new).await?;
    Ok((StatusCode::CREATED, axum::Json(SmsSent::view(sent.row, sent.contact_id))))
}
