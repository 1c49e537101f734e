//! `/v1/phone-numbers`: the country catalogue, inventory search, purchase,
//! and the project's owned numbers — list, get, assign to an agent, release
//! (Staffify §7). Numbers belong to a project; billing is EUR 5.00 per 28 days
//! from the purchase date, the first cycle charged at purchase.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer, Serialize};
use switchboard_domain::ids::IdKind;
use switchboard_domain::money::to_eur;
use switchboard_domain::page::{resolve_limit, split_page};
use switchboard_domain::phone_numbers::countries::{COUNTRIES, Country};
use switchboard_domain::phone_numbers::inventory::Offer;
use switchboard_domain::phone_numbers::requests::{PurchaseParams, SearchParams};
use switchboard_domain::phone_numbers::{NumberType, PRICE_MICROS};
use switchboard_domain::time::iso;
use switchboard_domain::validation::FieldErrors;
use switchboard_runtime::call::service::Tenant;
use switchboard_runtime::numbers::NumberError;
use switchboard_runtime::telephony::{ImportError, TwilioImport};
use switchboard_store::phone_numbers::{PhoneNumberRow, SIMULATED};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AnyCaller, ProjectScope};
use crate::error::{ApiError, ErrorBody, OrNotFound, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// A number the project owns.
#[derive(Serialize, ToSchema)]
pub struct PhoneNumber {
    /// `pn_…`
    pub id: String,
    /// E.164.
    pub phone_number: String,
    pub country_code: String,
    pub number_type: NumberType,
    /// The agent that answers inbound calls; `null` rejects them
    /// (`ended_reason: number-unassigned`).
    pub agent_id: Option<String>,
    /// The address the number was bought on.
    pub address_id: Option<String>,
    /// The city code of a local number outside US/CA.
    pub city_code: Option<String>,
    /// `simulated` for numbers bought here; `twilio` for numbers imported
    /// from the customer's Twilio account (`POST /v1/phone-numbers/import`).
    pub provider: String,
    /// EUR per 28-day cycle; 0 for imported numbers (their carrier bills them).
    pub monthly_cost_eur: f64,
    /// When the next cycle is charged: every 28 days from the purchase. A due
    /// cycle is charged even into a negative balance, which pauses the org;
    /// if the org is still paused when the following cycle comes due, the
    /// number is released for non-payment instead. `null` for imported numbers.
    pub next_billing_at: Option<String>,
    pub created_at: String,
}

impl PhoneNumber {
    fn view(row: PhoneNumberRow) -> Self {
        let bought = row.provider == SIMULATED;
        PhoneNumber {
            id: row.id,
            phone_number: row.phone_number,
            country_code: row.country_code,
            number_type: row.number_type,
            agent_id: row.agent_id,
            address_id: row.address_id,
            city_code: row.city_code,
            provider: row.provider,
            monthly_cost_eur: if bought { to_eur(PRICE_MICROS) } else { 0.0 },
            next_billing_at: bought.then(|| iso(row.next_billing_at)),
            created_at: iso(row.created_at),
        }
    }
}

/// The answer to a purchase: `success` and the owned number (its first cycle
/// is charged at purchase, the next one 28 days later).
#[derive(Serialize, ToSchema)]
pub struct PurchasedNumber {
    pub success: bool,
    #[serde(flatten)]
    pub number: PhoneNumber,
}

#[derive(Serialize, ToSchema)]
pub struct PhoneNumberList {
    pub phone_numbers: Vec<PhoneNumber>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A local area of a country's catalogue.
#[derive(Serialize, ToSchema)]
pub struct LocalArea {
    /// The `area_code` (US/CA) or `city_code` to search with.
    pub code: String,
    pub city: String,
    pub region: String,
}

/// A country numbers are sold in.
#[derive(Serialize, ToSchema)]
pub struct CountryInfo {
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
    pub name: String,
    /// E.g. `+31`.
    pub dialing_code: String,
    /// Search answers and purchase works only with a verified or partially
    /// verified address of the org in this country (`address_id` on purchase).
    /// US/CA need no `address_id`, but the org must have at least one verified
    /// address on file to buy.
    pub requires_address: bool,
    /// Local numbers need `city_code` on purchase, equal to the address's
    /// `city_code` (DE, ES, AT, IT).
    pub local_presence: bool,
    pub number_types: Vec<NumberType>,
    /// Which search parameter filters by area: `area_code` (US/CA),
    /// `city_code`, or `null` where the country has no area codes (DK).
    pub code_filter: Option<String>,
    /// The local areas of the inventory.
    pub local_areas: Vec<LocalArea>,
    /// EUR per 28-day cycle.
    pub monthly_cost_eur: f64,
}

impl CountryInfo {
    fn view(c: &Country) -> Self {
        let code_filter = if c.is_nanp() {
            Some("area_code")
        } else if c.has_city_codes() {
            Some("city_code")
        } else {
            None
        };
        CountryInfo {
            country_code: c.code.to_owned(),
            name: c.name.to_owned(),
            dialing_code: format!("+{}", c.dialing_code),
            requires_address: c.requires_address,
            local_presence: c.local_presence,
            number_types: c.number_types(),
            code_filter: code_filter.map(str::to_owned),
            local_areas: c
                .blocks_of(NumberType::Local)
                .filter_map(|b| {
                    Some(LocalArea { code: b.code?.to_owned(), city: b.city?.to_owned(), region: b.region.to_owned() })
                })
                .collect(),
            monthly_cost_eur: to_eur(PRICE_MICROS),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CountryList {
    pub countries: Vec<CountryInfo>,
}

/// `GET /v1/phone-numbers/search` parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// ISO 3166-1 alpha-2; default `US`.
    pub country_code: Option<String>,
    /// `local` (default), `mobile` or `toll_free`, as the country offers.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub number_type: Option<String>,
    /// US/CA area code, e.g. `415` (also toll-free prefixes such as `800`).
    pub area_code: Option<String>,
    /// City code of local numbers outside US/CA as dialled nationally, e.g.
    /// `020` (Amsterdam), `030` (Berlin), `91` (Madrid).
    pub city_code: Option<String>,
    /// Digits the number must contain (1–10).
    pub contains: Option<String>,
    /// Results, 1–100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A number for sale.
#[derive(Serialize, ToSchema)]
pub struct AvailableNumber {
    /// E.164; pass it to `POST /v1/phone-numbers`.
    pub phone_number: String,
    pub country_code: String,
    #[serde(rename = "type")]
    pub number_type: NumberType,
    /// US/CA area code.
    pub area_code: Option<String>,
    /// City code of a local number elsewhere.
    pub city_code: Option<String>,
    /// City of a local number.
    pub city: Option<String>,
    /// State, province or region; `Nationwide` for mobile and toll-free.
    pub region: String,
    /// EUR per 28-day cycle.
    pub monthly_cost_eur: f64,
}

impl AvailableNumber {
    fn view(offer: Offer, nanp: bool) -> Self {
        let code = offer.code.map(str::to_owned);
        AvailableNumber {
            phone_number: offer.phone_number,
            country_code: offer.country_code.to_owned(),
            number_type: offer.number_type,
            area_code: if nanp { code.clone() } else { None },
            city_code: if nanp { None } else { code },
            city: offer.city.map(str::to_owned),
            region: offer.region.to_owned(),
            monthly_cost_eur: to_eur(PRICE_MICROS),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NumberSearchResults {
    pub numbers: Vec<AvailableNumber>,
}

/// Buys a number found by search.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseBody {
    /// E.164, exactly as search returned it.
    pub phone_number: String,
    /// Default `US`.
    pub country_code: Option<String>,
    /// `local` (default), `mobile` or `toll_free`.
    pub number_type: Option<String>,
    /// Required outside US/CA: a `verified` or `partially_verified` address of
    /// the org in the number's country (`addr_…`).
    pub address_id: Option<String>,
    /// Required for local numbers in local-presence countries (DE, ES, AT,
    /// IT): equal to the address's `city_code` and to the number's.
    pub city_code: Option<String>,
}

/// Assigns the number to an agent or unassigns it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumberPatch {
    /// An active agent of the project, or `null` to unassign.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, required = true)]
    pub agent_id: Option<Option<String>>,
}

fn nullable<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Imports a number the customer owns at a carrier.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// `twilio` (`telnyx` and `sip` are not importable yet).
    pub provider: String,
    /// E.164, as the carrier shows it.
    pub phone_number: String,
    /// Twilio: the account SID the number belongs to (`AC…`).
    pub twilio_account_sid: Option<String>,
    /// Twilio: the account's auth token. Stored encrypted, used to check
    /// Twilio's request signatures, never returned.
    pub twilio_auth_token: Option<String>,
    /// The agent that answers the number's calls; unassigned when left out.
    pub agent_id: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_number))
        .routes(routes!(list_countries))
        .routes(routes!(search_numbers))
        .routes(routes!(list_numbers, purchase_number))
        .routes(routes!(get_number, patch_number, release_number))
}

/// The API error of a refused search or purchase.
pub(crate) fn number_error(err: NumberError) -> ApiError {
    match err {
        NumberError::Invalid(errors) => ApiError::validation(errors),
        NumberError::AddressRequired(message) => ApiError::new(StatusCode::FORBIDDEN, "ADDRESS_REQUIRED", message),
        NumberError::AddressNotFound => ApiError::not_found("Address not found"),
        NumberError::AddressNotVerified(message) => ApiError::conflict("ADDRESS_NOT_VERIFIED", message),
        NumberError::InsufficientCredits => {
            ApiError::new(StatusCode::PAYMENT_REQUIRED, "INSUFFICIENT_CREDITS", err.to_string())
        }
        NumberError::Unavailable(message) => ApiError::conflict("NUMBER_UNAVAILABLE", message),
        NumberError::Carrier(switchboard_runtime::numbers::CarrierError::Store(err)) => err.into(),
    }
}

/// Import a number the project's owner already has at Twilio. Point the
/// number's voice webhook (Twilio console → the number → "A call comes in")
/// at `POST {public_url}/v1/telephony/twilio/voice`; calls to it are then
/// answered by `agent_id` over a Twilio media stream, with speech recognised
/// and spoken by the server's voice. Imported numbers cost nothing here
/// (`monthly_cost_eur: 0`). 400 for a wrong field or a provider that cannot
/// be imported yet, 404 for an agent not in the project, 409
/// `AGENT_UNAVAILABLE` for an archived or inactive agent and 409
/// `NUMBER_UNAVAILABLE` when the number is already on Switchboard. The auth
/// token is stored encrypted and never returned.
#[utoipa::path(post, path = "/v1/phone-numbers/import", tag = "Phone numbers", request_body = ImportBody,
    responses((status = 201, body = PhoneNumber),
        (status = 404, description = "`NOT_FOUND`: the agent is not in the project", body = ErrorBody),
        (status = 409, description = "`NUMBER_UNAVAILABLE` or `AGENT_UNAVAILABLE`", body = ErrorBody)))]
async fn import_number(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<ImportBody>,
) -> Result<impl IntoResponse> {
    match body.provider.as_str() {
        "twilio" => {}
        "telnyx" | "sip" => {
            return Err(ApiError::invalid_field("provider", "Only `twilio` numbers can be imported so far."));
        }
        _ => return Err(ApiError::invalid_field("provider", "One of `twilio`, `telnyx`, `sip`.")),
    }
    let mut missing = FieldErrors::new();
    for (field, value) in
        [("twilio_account_sid", &body.twilio_account_sid), ("twilio_auth_token", &body.twilio_auth_token)]
    {
        if value.as_deref().is_none_or(str::is_empty) {
            missing.add(field, "Required for a Twilio number.");
        }
    }
    missing.finish().map_err(ApiError::validation)?;
    let import = TwilioImport {
        phone_number: body.phone_number,
        account_sid: body.twilio_account_sid.unwrap_or_default(),
        auth_token: body.twilio_auth_token.unwrap_or_default(),
        agent_id: body.agent_id,
    };
    let tenant = Tenant { org_id: scope.org_id(), project_id: &scope.project_id };
    let row = state.telephony.import_twilio(tenant, import).await.map_err(|err| match err {
        ImportError::Invalid(problems) => {
            let mut details = FieldErrors::new();
            for (field, message) in problems {
                details.add(field, message);
            }
            ApiError::validation(details)
        }
        ImportError::AgentNotFound => ApiError::not_found("Agent not found"),
        ImportError::AgentUnavailable => ApiError::conflict("AGENT_UNAVAILABLE", err.to_string()),
        ImportError::Taken => ApiError::conflict("NUMBER_UNAVAILABLE", err.to_string()),
        ImportError::NotConfigured => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "CARRIER_NOT_CONFIGURED", err.to_string())
        }
        ImportError::Seal => ApiError::internal(err),
        ImportError::Store(err) => err.into(),
    })?;
    Ok((StatusCode::CREATED, axum::Json(PhoneNumber::view(row))))
}

/// The countries numbers are sold in: the authoritative list with
/// `requires_address`, the number types, local-presence rules and the local
/// areas of the inventory.
#[utoipa::path(get, path = "/v1/phone-numbers/countries", tag = "Phone numbers",
    responses((status = 200, body = CountryList)))]
async fn list_countries(AnyCaller(_caller): AnyCaller) -> axum::Json<CountryList> {
    axum::Json(CountryList { countries: COUNTRIES.iter().map(CountryInfo::view).collect() })
}

/// Search numbers for sale (never one someone owns). Defaults: `US`, `local`,
/// 20 results. The simulated carrier's inventory is deterministic: the same
/// query answers the same numbers until one is bought. In a country with
/// `requires_address`, search answers 403 `ADDRESS_REQUIRED` until the org
/// has a verified or partially verified address there. An area or city code
/// outside the inventory answers an empty list.
#[utoipa::path(get, path = "/v1/phone-numbers/search", tag = "Phone numbers", params(SearchQuery),
    responses((status = 200, body = NumberSearchResults),
        (status = 403, description = "`ADDRESS_REQUIRED`: no verified address in the country", body = ErrorBody)))]
async fn search_numbers(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Query(q): Query<SearchQuery>,
) -> Result<axum::Json<NumberSearchResults>> {
    let params = SearchParams {
        country_code: q.country_code,
        number_type: q.number_type,
        area_code: q.area_code,
        city_code: q.city_code,
        contains: q.contains,
        limit: q.limit,
    };
    let search = params.check().map_err(ApiError::validation)?;
    let nanp = search.country.is_nanp();
    let offers = state.numbers.search(&caller.org.id, &search).await.map_err(number_error)?;
    Ok(axum::Json(NumberSearchResults {
        numbers: offers.into_iter().map(|o| AvailableNumber::view(o, nanp)).collect(),
    }))
}

/// List the project's numbers, newest first (released ones are left out).
#[utoipa::path(get, path = "/v1/phone-numbers", tag = "Phone numbers", params(super::PageQuery),
    responses((status = 200, body = PhoneNumberList)))]
async fn list_numbers(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(page): Query<super::PageQuery>,
) -> Result<axum::Json<PhoneNumberList>> {
    let limit = resolve_limit(page.limit).map_err(|m| ApiError::invalid_field("limit", m))?;
    let rows = state
        .store
        .phone_numbers(&scope.project_id, super::cursor(page.after.as_deref(), IdKind::PhoneNumber)?, limit)
        .await?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    Ok(axum::Json(PhoneNumberList { phone_numbers: rows.into_iter().map(PhoneNumber::view).collect(), next_cursor }))
}

/// Buy a number from the search results for the project. Rules, in order:
/// the number must be offered for that country and type (400 on
/// `phone_number`) and free (409 `NUMBER_UNAVAILABLE`); US/CA need at least
/// one `verified` address of the org on file (403 `ADDRESS_REQUIRED`); other
/// countries need `address_id` (400 when missing) of an address of the org
/// (404) in that country (400) that is `verified` or `partially_verified`
/// (409 `ADDRESS_NOT_VERIFIED`); local numbers in local-presence countries
/// need `city_code` equal to the address's (400); a `city_code` must be the
/// number's own (400); the balance must be at least EUR 5.00 (402
/// `INSUFFICIENT_CREDITS`). The first 28-day cycle (EUR 5.00) is charged at
/// once.
#[utoipa::path(post, path = "/v1/phone-numbers", tag = "Phone numbers", request_body = PurchaseBody,
    responses((status = 201, body = PurchasedNumber),
        (status = 402, description = "`INSUFFICIENT_CREDITS`: balance below EUR 5.00, or the org is paused", body = ErrorBody),
        (status = 403, description = "`ADDRESS_REQUIRED`: US/CA purchase without a verified address on file", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: the address is not the org's", body = ErrorBody),
        (status = 409, description = "`NUMBER_UNAVAILABLE` or `ADDRESS_NOT_VERIFIED`", body = ErrorBody)))]
async fn purchase_number(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<PurchaseBody>,
) -> Result<impl IntoResponse> {
    let params = PurchaseParams {
        phone_number: body.phone_number,
        country_code: body.country_code,
        number_type: body.number_type,
        address_id: body.address_id,
        city_code: body.city_code,
    };
    let purchase = params.check().map_err(ApiError::validation)?;
    let row = state.numbers.purchase(scope.org_id(), &scope.project_id, &purchase).await.map_err(number_error)?;
    Ok((StatusCode::CREATED, axum::Json(PurchasedNumber { success: true, number: PhoneNumber::view(row) })))
}

/// Get one of the project's numbers.
#[utoipa::path(get, path = "/v1/phone-numbers/{phone_number_id}", tag = "Phone numbers",
    params(("phone_number_id" = String, Path)), responses((status = 200, body = PhoneNumber)))]
async fn get_number(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
) -> Result<axum::Json<PhoneNumber>> {
    let row = state.store.phone_number(&scope.project_id, &id).await.or_not_found("Phone number not found")?;
    Ok(axum::Json(PhoneNumber::view(row)))
}

/// Assign the number to an agent of the project (`agent_id`), or unassign it
/// (`null`). Inbound calls to it go to that agent; unassigned, they are
/// rejected. 404 for an agent not in the project, 409 `AGENT_UNAVAILABLE` for
/// an archived or inactive one.
#[utoipa::path(patch, path = "/v1/phone-numbers/{phone_number_id}", tag = "Phone numbers",
    params(("phone_number_id" = String, Path)), request_body = PhoneNumberPatch,
    responses((status = 200, body = PhoneNumber),
        (status = 409, description = "`AGENT_UNAVAILABLE`: archived or inactive agent", body = ErrorBody)))]
async fn patch_number(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
    Json(patch): Json<PhoneNumberPatch>,
) -> Result<axum::Json<PhoneNumber>> {
    let Some(agent_id) = patch.agent_id else {
        return Err(ApiError::invalid_field("agent_id", "Required: an agent id, or null to unassign."));
    };
    state.store.phone_number(&scope.project_id, &id).await.or_not_found("Phone number not found")?;
    if let Some(agent_id) = &agent_id {
        let agent = state.store.agent(&scope.project_id, agent_id).await.or_not_found("Agent not found")?;
        if agent.archived_at.is_some() || !agent.settings.is_active {
            return Err(ApiError::conflict("AGENT_UNAVAILABLE", "Only an active, unarchived agent can take a number."));
        }
    }
    let row = state
        .store
        .assign_number(&scope.project_id, &id, agent_id.as_deref())
        .await
        .or_not_found("Phone number not found")?;
    Ok(axum::Json(PhoneNumber::view(row)))
}

/// Release the number: it goes back to the carrier's inventory, billing stops
/// (nothing is refunded), and inbound calls to it from this project's
/// simulator are rejected (`ended_reason: number-released`).
#[utoipa::path(delete, path = "/v1/phone-numbers/{phone_number_id}", tag = "Phone numbers",
    params(("phone_number_id" = String, Path)), responses((status = 204, description = "Released")))]
async fn release_number(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.numbers.release(&scope.project_id, &id).await.map_err(|e| match e {
        NumberError::Carrier(switchboard_runtime::numbers::CarrierError::Store(err)) => {
            ApiError::missing(err, "Phone number not found")
        }
        other => number_error(other),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
