//! `POST /v1/messages` (Centerfy's send-message): a message to a contact on
//! one channel, written as given or by an agent's language model; and
//! `POST /v1/simulator/messages`: an inbound message injected as if the
//! contact had sent it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use switchboard_domain::messaging::{self, Address, Channel, Sender};
use switchboard_domain::money::to_eur;
use switchboard_domain::phone::E164;
use switchboard_domain::sms::{DEFAULT_SENDER_NAME, SenderType};
use switchboard_domain::time::iso;
use switchboard_domain::validation::FieldErrors;
use switchboard_runtime::messaging::{ChannelError, Composition, OutboundMessage, SentSms, WriteError};
use switchboard_store::agents::AgentRow;
use switchboard_store::contacts::{ContactAddress, ContactRow};
use switchboard_store::messages::NewMessage;
use switchboard_store::sms::{ConversationMeta, NewSms};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, ErrorBody, OrNotFound, Result};
use crate::extract::Json;
use crate::routes::sms;
use crate::state::AppState;

/// Messages of the conversation the model sees when it writes.
const HISTORY_FOR_MODEL: i64 = 20;
/// Longest instruction for a model-written message.
const MAX_INSTRUCTION_CHARS: usize = 4_000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSend {
    /// The contact to write to; or give `conversation_id`.
    pub contact_id: Option<String>,
    /// The contact's conversation (`conv_…`); or give `contact_id`.
    pub conversation_id: Option<String>,
    /// `sms`, `email`, `whatsapp`, `facebook` or `instagram`.
    pub channel: String,
    /// The text sent as written; with `ai: true`, the instruction for the agent's model.
    #[schema(min_length = 1)]
    pub content: String,
    /// `false` sends `content` as written; `true` has the agent's language model write the message.
    pub ai: bool,
    /// Required with `ai: true`: an active agent of the project.
    pub agent_id: Option<String>,
    /// The inbound message (`msg_…` of this conversation) being answered.
    pub message_id: Option<String>,
    /// Email only: the subject; default "Message from <agent name>", or "New message" without an agent.
    #[schema(max_length = 200)]
    pub subject: Option<String>,
}

/// A message sent.
#[derive(Serialize, ToSchema)]
pub struct MessageSent {
    /// `msg_…`
    pub message_id: String,
    pub conversation_id: String,
    pub contact_id: String,
    /// The text actually sent.
    pub content: String,
    /// Always `agent`.
    pub sender_type: Sender,
    pub channel: Channel,
    pub ai: bool,
    /// Whether the channel accepted the message.
    pub delivered: bool,
    /// The message answered (`message_id` of the request), if any.
    pub in_reply_to: Option<String>,
    /// On `sms`: the price debited (as for `POST /v1/sms`); 0 on other channels.
    pub cost_eur: f64,
    pub timestamp: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundMessage {
    /// `sms`, `email`, `whatsapp`, `facebook` or `instagram`.
    pub channel: String,
    /// The sender: an E.164 phone (`sms`, `whatsapp`), an email address
    /// (`email`), or either (`facebook`, `instagram`).
    pub from: String,
    #[schema(min_length = 1)]
    pub content: String,
}

/// An inbound message received.
#[derive(Serialize, ToSchema)]
pub struct InboundReceived {
    pub message_id: String,
    pub contact_id: String,
    pub conversation_id: String,
    /// True when no contact had this address and one was created.
    pub contact_created: bool,
    pub content: String,
    /// Always `contact`.
    pub sender_type: Sender,
    pub channel: Channel,
    pub timestamp: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send_message)).routes(routes!(inbound_message))
}

fn sendable_channel(errors: &mut FieldErrors, channel: &str) -> Option<Channel> {
    let parsed = Channel::parse(channel).filter(|c| Channel::SENDABLE.contains(c));
    if parsed.is_none() {
        errors.add("channel", "Must be one of sms, email, whatsapp, facebook, instagram.");
    }
    parsed
}

/// The contact a request names by `contact_id` or `conversation_id`.
async fn target_contact(state: &AppState, project_id: &str, body: &MessageSend) -> Result<ContactRow> {
    let from_conversation = match &body.conversation_id {
        Some(conv) => Some(
            messaging::contact_of_conversation(conv).ok_or_else(|| ApiError::not_found("Conversation not found"))?,
        ),
        None => None,
    };
    let id = match (&body.contact_id, from_conversation) {
        (Some(contact), Some(conv_contact)) if *contact != conv_contact => {
            return Err(ApiError::invalid_field("conversation_id", "Is not the conversation of contact_id."));
        }
        (Some(contact), _) => contact.clone(),
        (None, Some(conv_contact)) => conv_contact,
        (None, None) => {
            return Err(ApiError::invalid_field("contact_id", "Either contact_id or conversation_id is required."));
        }
    };
    let missing = if body.contact_id.is_some() { "Contact not found" } else { "Conversation not found" };
    state.store.contact(project_id, &id).await.or_not_found(missing)
}

/// The agent named by `agent_id`: 404 when unknown, 409 `AGENT_INACTIVE` when
/// archived or inactive.
async fn active_agent(state: &AppState, project_id: &str, agent_id: &str) -> Result<AgentRow> {
    let agent = state.store.agent(project_id, agent_id).await.or_not_found("Agent not found")?;
    if agent.archived_at.is_some() || !agent.settings.is_active {
        return Err(ApiError::conflict("AGENT_INACTIVE", "The agent is archived or not active."));
    }
    Ok(agent)
}

/// Where the contact is reached on `channel`.
fn address_of(contact: &ContactRow, channel: Channel) -> Result<String> {
    let phone = contact.phone.clone();
    let email = contact.email.clone();
    let found = match channel.address() {
        Address::Phone => phone,
        Address::Email => email,
        Address::PhoneOrEmail => phone.or(email),
    };
    found.ok_or_else(|| {
        let needs = match channel.address() {
            Address::Phone => "a phone number",
            Address::Email => "an email address",
            Address::PhoneOrEmail => "a phone number or an email address",
        };
        ApiError::invalid_field("channel", format!("The contact has no {needs} for the {} channel.", channel.as_str()))
    })
}

fn write_error(err: WriteError) -> ApiError {
    match err {
        WriteError::NotConfigured => ApiError::conflict("LLM_NOT_CONFIGURED", err.to_string()),
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "LLM_ERROR", other.to_string()),
    }
}

fn channel_error(err: ChannelError) -> ApiError {
    match err {
        ChannelError::NotConfigured(_) => ApiError::conflict("CHANNEL_NOT_CONFIGURED", err.to_string()),
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "DELIVERY_FAILED", other.to_string()),
    }
}

/// Send a message to a contact on one channel; it joins the contact's
/// conversation. With `ai: true` the agent's language model (the agent's,
/// else the project's, else the org's, as for calls) writes the message from
/// the agent's system prompt, the recent conversation and `content` as the
/// instruction; without a model configured the answer is 409
/// `LLM_NOT_CONFIGURED` and nothing is sent. `email` needs the contact's email
/// and the server's `[email]` SMTP settings (else 409 `EMAIL_NOT_CONFIGURED`);
/// `sms` and `whatsapp` need the contact's phone. An `sms` follows the rules
/// and prices of `POST /v1/sms` (long code from the project's oldest live
/// US/CA number, or the `"Switchboard"` alphanumeric sender) and is debited
/// from the credits; the other channels are free.
#[utoipa::path(post, path = "/v1/messages", tag = "Messages", request_body = MessageSend,
    responses((status = 201, body = MessageSent),
        (status = 400, description = "`VALIDATION_ERROR` (including a contact without the phone or email the channel \
            needs), or `UNSUPPORTED_COUNTRY` for an SMS", body = ErrorBody),
        (status = 402, description = "`INSUFFICIENT_CREDITS`: the balance cannot pay the SMS", body = ErrorBody),
        (status = 404, description = "Contact, conversation or agent not found", body = ErrorBody),
        (status = 409, description = "`LLM_NOT_CONFIGURED`, `EMAIL_NOT_CONFIGURED` or `AGENT_INACTIVE`", body = ErrorBody),
        (status = 422, description = "`LLM_ERROR`: the model failed; `DELIVERY_FAILED`: the channel refused the message",
            body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<MessageSend>,
) -> Result<impl IntoResponse> {
    let mut errors = FieldErrors::new();
    let channel = sendable_channel(&mut errors, &body.channel);
    let max = match (body.ai, channel) {
        (true, _) => MAX_INSTRUCTION_CHARS,
        (false, Some(channel)) => channel.max_chars(),
        (false, None) => MAX_INSTRUCTION_CHARS,
    };
    if body.content.trim().is_empty() || body.content.chars().count() > max {
        errors.add("content", format!("Must be 1 to {max} characters."));
    }
    if body.ai && body.agent_id.is_none() {
        errors.add("agent_id", "Required when ai is true.");
    }
    if body.contact_id.is_none() && body.conversation_id.is_none() {
        errors.add("contact_id", "Either contact_id or conversation_id is required.");
    }
    if let Some(subject) = &body.subject {
        if channel != Some(Channel::Email) {
            errors.add("subject", "Only email messages have a subject.");
        } else if subject.chars().count() > 200 || subject.contains(['\r', '\n']) {
            errors.add("subject", "Must be one line of at most 200 characters.");
        }
    }
    errors.finish().map_err(ApiError::validation)?;
    let Some(channel) = channel else { return Err(ApiError::invalid_field("channel", "Unknown channel.")) };
    let contact = target_contact(&state, &scope.project_id, &body).await?;
    let agent = match &body.agent_id {
        Some(id) => Some(active_agent(&state, &scope.project_id, id).await?),
        None => None,
    };
    if let Some(answered) = &body.message_id {
        state.store.message(&scope.project_id, &contact.id, answered).await.map_err(|err| match err {
            switchboard_store::Error::NotFound => {
                ApiError::invalid_field("message_id", "Not a message of this conversation.")
            }
            other => other.into(),
        })?;
    }
    let address = address_of(&contact, channel)?;
    if channel == Channel::Email && !state.channels.is_configured(Channel::Email) {
        return Err(ApiError::conflict(
            "EMAIL_NOT_CONFIGURED",
            "The email channel is not configured on this server (set [email] host and from).",
        ));
    }
    let sms_route = match channel {
        Channel::Sms => {
            let route = sms::route(&address)?;
            let from = match route.sender_type {
                SenderType::LongCode => {
                    Some(state.store.long_code_sender(&scope.project_id, &["US", "CA"]).await?.ok_or_else(|| {
                        ApiError::invalid_field(
                            "channel",
                            "SMS to the US and Canada need a live US or Canadian number in the project.",
                        )
                    })?)
                }
                SenderType::Alphanumeric => None,
            };
            Some(sms::sender(&state, &scope.project_id, route, from, None).await?)
        }
        _ => None,
    };
    let content = match (&agent, body.ai) {
        (Some(agent), true) => {
            let history = state.store.recent_messages(&scope.project_id, &contact.id, HISTORY_FOR_MODEL).await?;
            let composition = Composition {
                agent,
                channel,
                contact_name: contact.name.as_deref(),
                history: &history,
                instruction: &body.content,
            };
            let text = state.channels.writer().write(&composition).await.map_err(write_error)?;
            if text.chars().count() > channel.max_chars() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "LLM_ERROR",
                    format!(
                        "The model's message is longer than the {} characters of the channel.",
                        channel.max_chars()
                    ),
                ));
            }
            text
        }
        _ => body.content.clone(),
    };
    let conversation_id = messaging::conversation_id(&contact.id);
    if let Some(routed) = sms_route {
        let new = NewSms {
            org_id: scope.org_id().to_owned(),
            project_id: scope.project_id.clone(),
            agent_id: agent.as_ref().map(|a| a.id.clone()),
            to: address,
            from_number: routed.from_number,
            sender_name: routed.sender_name,
            sender_type: routed.route.sender_type,
            country: routed.route.country,
            body: content.clone(),
            price: routed.route.price,
            conversation: Some(ConversationMeta {
                contact_id: Some(contact.id.clone()),
                ai: body.ai,
                reply_to: body.message_id.clone(),
            }),
        };
        let SentSms { row, message_id, .. } = sms::deliver(&state, &new).await?;
        let sent = MessageSent {
            message_id: message_id.unwrap_or_default(),
            conversation_id,
            contact_id: contact.id,
            content,
            sender_type: Sender::Agent,
            channel,
            ai: body.ai,
            delivered: true,
            in_reply_to: body.message_id,
            cost_eur: to_eur(row.cost),
            timestamp: iso(row.created_at),
        };
        return Ok((StatusCode::CREATED, axum::Json(sent)));
    }
    let subject = (channel == Channel::Email).then(|| {
        body.subject.clone().unwrap_or_else(|| match &agent {
            Some(agent) => format!("Message from {}", agent.settings.name),
            None => "New message".to_owned(),
        })
    });
    let outbound = OutboundMessage {
        to: address,
        to_name: contact.name.clone(),
        from: agent.as_ref().map(|a| a.settings.name.clone()).or_else(|| Some(DEFAULT_SENDER_NAME.to_owned())),
        subject: subject.clone(),
        body: content.clone(),
    };
    state.channels.send(channel, &outbound).await.map_err(channel_error)?;
    let new = NewMessage {
        contact_id: contact.id.clone(),
        channel,
        sender: Sender::Agent,
        content,
        subject,
        ai: body.ai,
        agent_id: agent.map(|a| a.id),
        reply_to: body.message_id.clone(),
        delivered: true,
    };
    let row = state.store.insert_message(scope.org_id(), &scope.project_id, &new).await?;
    let sent = MessageSent {
        message_id: row.id,
        conversation_id,
        contact_id: contact.id,
        content: row.content,
        sender_type: Sender::Agent,
        channel,
        ai: row.ai,
        delivered: row.delivered,
        in_reply_to: row.reply_to,
        cost_eur: 0.0,
        timestamp: iso(row.created_at),
    };
    Ok((StatusCode::CREATED, axum::Json(sent)))
}

/// Inject an inbound message, as if the contact had sent it on `channel`. It
/// lands in the conversation of the contact with that phone or email; a
/// contact is created when none matches.
#[utoipa::path(post, path = "/v1/simulator/messages", tag = "Simulator", request_body = InboundMessage,
    responses((status = 201, body = InboundReceived)))]
async fn inbound_message(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<InboundMessage>,
) -> Result<impl IntoResponse> {
    let mut errors = FieldErrors::new();
    let channel = sendable_channel(&mut errors, &body.channel);
    let from = body.from.trim();
    let address = match channel.map(Channel::address) {
        Some(Address::Phone) if E164::parse(from).is_some() => Some(ContactAddress::Phone(from)),
        Some(Address::Email | Address::PhoneOrEmail) if messaging::check_email(from).is_ok() => {
            Some(ContactAddress::Email(from))
        }
        Some(Address::PhoneOrEmail) if E164::parse(from).is_some() => Some(ContactAddress::Phone(from)),
        Some(kind) => {
            let expected = match kind {
                Address::Phone => "Must be an E.164 phone number.",
                Address::Email => "Must be an email address.",
                Address::PhoneOrEmail => "Must be an E.164 phone number or an email address.",
            };
            errors.add("from", expected);
            None
        }
        None => None,
    };
    let max = channel.map_or(MAX_INSTRUCTION_CHARS, Channel::max_chars);
    if body.content.trim().is_empty() || body.content.chars().count() > max {
        errors.add("content", format!("Must be 1 to {max} characters."));
    }
    errors.finish().map_err(ApiError::validation)?;
    let (Some(channel), Some(address)) = (channel, address) else {
        return Err(ApiError::invalid_field("from", "Unknown sender."));
    };
    let email;
    let address = match address {
        ContactAddress::Email(e) => {
            email = messaging::normalize_email(e);
            ContactAddress::Email(&email)
        }
        phone => phone,
    };
    let (contact, created) = state
        .store
        .contact_for_address(scope.org_id(), &scope.project_id, &address)
        .await
        .map_err(crate::routes::contacts::not_found)?;
    let new = NewMessage {
        contact_id: contact.id.clone(),
        channel,
        sender: Sender::Contact,
        content: body.content,
        subject: None,
        ai: false,
        agent_id: None,
        reply_to: None,
        delivered: true,
    };
    let row = state.store.insert_message(scope.org_id(), &scope.project_id, &new).await?;
    let received = InboundReceived {
        message_id: row.id,
        conversation_id: messaging::conversation_id(&contact.id),
        contact_id: contact.id,
        contact_created: created,
        content: row.content,
        sender_type: Sender::Contact,
        channel,
        timestamp: iso(row.created_at),
    };
    Ok((StatusCode::CREATED, axum::Json(received)))
}
