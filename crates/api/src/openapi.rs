//! The OpenAPI document: generated from the route annotations, then finished
//! here with the security schemes and the error responses every route shares.

use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

use crate::error::ErrorBody;
use switchboard_domain::ivr::{IvrAction, IvrMenu, IvrOption};
use switchboard_domain::memory::learned::MemoryUpdate;
use switchboard_domain::server_url::{
    AgentConfig, CallConfig, CallStarted, ToolCallRequest, ToolCallResponse, ToolDef, TranscriptUpdated,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "Self-hostable voice AI agent platform. Authenticate with `Authorization: Bearer <key>` \
            or `X-Api-Key: <key>`. Project keys (`sb_live_…`) act on one project; org keys (`sb_org_…`) act on \
            the org, and on a project when `X-Project-Id` is sent. Every POST accepts an `Idempotency-Key` \
            header: a retry with the same key, path and body within 24 h replays the first response with \
            `Idempotent-Replayed: true`; the same key with a different body is 422 `IDEMPOTENCY_KEY_REUSED`, \
            and a retry while the first request still runs is 409 `IDEMPOTENCY_KEY_IN_USE`. Lists are \
            cursor-paginated with `after` and `limit` (default 20, max 100) and return `next_cursor`.\n\n\
            **server_url protocol.** During a call Switchboard POSTs JSON to the agent's `server_url`, signed \
            twice with the agent's webhook secret (`X-Switchboard-Timestamp` + `X-Switchboard-Signature: \
            sha256=hex(HMAC(secret, timestamp.body))`, and Standard Webhooks `webhook-id`, `webhook-timestamp`, \
            `webhook-signature`), with `X-Call-Id` and `X-Switchboard-Event`: `call.started` (schema \
            `CallStarted`; answer `CallConfig` within 5 s — on a timeout, non-2xx, bad JSON or invalid fields \
            the call uses the agent's stored configuration and records `config_source: agent_fallback` and \
            `server_url_error`), `tool.call` (`ToolCallRequest`; answer `ToolCallResponse` within the tool's \
            `timeout_seconds`; failures reach the model as the tool's error) and `transcript.updated` \
            (`TranscriptUpdated`, fire-and-forget). See docs/server-url.md.",
        version = "2026-05-20"
    ),
    components(schemas(
        ErrorBody, CallStarted, AgentConfig, CallConfig, ToolDef, ToolCallRequest, ToolCallResponse,
        TranscriptUpdated, IvrMenu, IvrOption, IvrAction, MemoryUpdate
    )),
    tags(
        (name = "Health"), (name = "Organization", description = "Org key required"),
        (name = "Project"), (name = "Agents"), (name = "Calls"),
        (name = "Caller memory", description = "Sticky Calls: recognise callers, remember intents and variables"),
        (name = "Simulator", description = "The simulated carrier: inject inbound calls and messages"),
        (name = "Test sessions", description = "Text conversations with an agent, no phone call"), (name = "Verify"), (name = "Voices"), (name = "Credits"),
        (name = "Knowledge bases", description = "Org-wide Q&A for agents: entries, website crawls, document uploads, search"),
        (name = "Webhooks", description = "Signed, retried event delivery to org, project and agent endpoints; \
            org webhooks need an org key. See docs/webhooks.md."),
        (name = "Phone numbers", description = "Search, buy, assign and release numbers; EUR 5 per 28 days"),
        (name = "Addresses", description = "Regulatory addresses and their verification, needed to buy numbers"),
        (name = "SMS", description = "Text messages; the sender follows the destination country"),
        (name = "Contacts", description = "People and their one conversation across channels and calls"),
        (name = "Messages", description = "Send on any channel, optionally written by an agent's model"),
        (name = "Usage", description = "Calls and SMS per day, week or month, with costs"),
        (name = "Appointments", description = "A project's calendar: availability, free slots, booking without \
            double-booking, an iCalendar feed. See docs/appointments.md.")
    )
)]
pub struct ApiDoc;

/// Error responses added to every authenticated operation that does not
/// document them itself: (status, description, writes only).
const SHARED_ERRORS: &[(&str, &str, bool)] = &[
    ("400", "Validation failed (`VALIDATION_ERROR` with `details`), or `PROJECT_ID_REQUIRED`", false),
    ("401", "`MISSING_API_KEY` or `INVALID_API_KEY`", false),
    ("402", "`INSUFFICIENT_CREDITS`: the org is paused", true),
    ("403", "`READ_ONLY_KEY` or `ORG_KEY_REQUIRED`", false),
    ("404", "Not found, or `PROJECT_NOT_FOUND`", false),
    ("405", "`METHOD_NOT_ALLOWED`: the path resolved to a route without this method (e.g. an empty id)", false),
    ("409", "`IDEMPOTENCY_KEY_IN_USE`, or a state conflict", true),
    ("413", "`PAYLOAD_TOO_LARGE`", true),
    ("422", "`IDEMPOTENCY_KEY_REUSED`", true),
    ("429", "`RATE_LIMIT_EXCEEDED` or `AUTH_RATE_LIMITED`, with `retryAfter`", false),
    ("500", "`INTERNAL_ERROR`, with a `request_id`", false),
];

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
        .into()
}

fn add_errors(op: &mut Operation, write: bool) {
    for (status, description, writes_only) in SHARED_ERRORS {
        if *writes_only && !write {
            continue;
        }
        op.responses.responses.entry((*status).to_owned()).or_insert_with(|| error_response(description));
    }
}

/// Adds security schemes, default security, and the shared error responses.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("API key").build()),
    );
    components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))));
    doc.security = Some(vec![
        SecurityRequirement::new("bearer", Vec::<String>::new()),
        SecurityRequirement::new("api_key", Vec::<String>::new()),
    ]);
    for item in doc.paths.paths.values_mut() {
        let ops = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.patch, true),
            (&mut item.put, true),
            (&mut item.delete, true),
        ];
        for (op, write) in ops {
            if let Some(op) = op {
                add_errors(op, write);
            }
        }
    }
}
