//! Conversations through the real server: SMS, email (over SMTP, read back by
//! a real SMTP server), injected inbound messages and finished calls in one
//! contact's history, newest first with limit/offset/total; messages written
//! by an agent's language model (a scripted OpenAI-compatible server); and
//! the errors of `POST /v1/messages`.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::EmailSecurity;
use switchboard_testkit::llm::{Reply, ScriptedLlm};
use switchboard_testkit::smtp::SmtpServer;

use crate::common::{TestServer, assert_error};

const ANA: &str = "+31612345678";

async fn server_with_email(smtp: &SmtpServer) -> TestServer {
    let (host, port) = (smtp.host(), smtp.port());
    TestServer::start_with(move |c| {
        c.runtime.clock_speed = 100.0;
        c.email.host = Some(host);
        c.email.port = port;
        c.email.security = EmailSecurity::None;
        c.email.from = Some("Acme Support <support@acme.test>".into());
    })
    .await
}

async fn contact(s: &TestServer, body: Value) -> String {
    let resp = s.post("/v1/contacts", body).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    resp.body["id"].as_str().expect("id").to_owned()
}

/// Moves the store clock so the next entry is clearly newer.
fn tick(s: &TestServer) {
    s.store().clock().advance(1_000);
}

fn kinds(page: &Value) -> Vec<(String, String)> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (m["message_type"].as_str().unwrap_or("").to_owned(), m["sender_type"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

#[tokio::test]
async fn one_conversation_across_sms_email_inbound_messages_and_calls() {
    let smtp = SmtpServer::start().await;
    let s = server_with_email(&smtp).await;
    let agent = s.create_agent(json!({"name": "Acme Support", "first_message": "Acme, how can I help?"})).await;
    let ana = contact(&s, json!({"name": "Ana Silva", "phone": ANA, "email": "ana@example.com"})).await;

    let sms = s.post("/v1/sms", json!({"to": ANA, "message": "Your booking is confirmed."})).await;
    assert_eq!(sms.status, 201, "{}", sms.body);
    assert_eq!(sms.body["contact_id"], ana.as_str(), "an SMS to a contact's number joins the conversation");
    tick(&s);

    let inbound = s
        .post(
            "/v1/simulator/messages",
            json!({"channel": "whatsapp", "from": ANA, "content": "Can I move it to Friday?"}),
        )
        .await;
    assert_eq!(inbound.status, 201, "{}", inbound.body);
    assert_eq!(inbound.body["contact_id"], ana.as_str());
    assert_eq!(inbound.body["contact_created"], false);
    assert_eq!(inbound.body["sender_type"], "contact");
    let inbound_id = inbound.body["message_id"].as_str().expect("id").to_owned();
    assert!(inbound_id.starts_with("msg_"));
    tick(&s);

    let email = s
        .post(
            "/v1/messages",
            json!({"contact_id": ana, "channel": "email", "content": "Done: moved to Friday 8pm.", "ai": false,
                   "agent_id": agent, "message_id": inbound_id}),
        )
        .await;
    assert_eq!(email.status, 201, "{}", email.body);
    assert_eq!(email.body["sender_type"], "agent");
    assert_eq!(email.body["channel"], "email");
    assert_eq!(email.body["ai"], false);
    assert_eq!(email.body["delivered"], true);
    assert_eq!(email.body["in_reply_to"], inbound_id.as_str());
    assert_eq!(email.body["content"], "Done: moved to Friday 8pm.");
    let conversation = email.body["conversation_id"].as_str().expect("conversation").to_owned();
    let mail = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mail.len(), 1, "one email over SMTP");
    assert_eq!(mail[0].rcpt_to, vec!["ana@example.com".to_owned()]);
    assert_eq!(mail[0].mail_from, "support@acme.test");
    assert_eq!(mail[0].header("Subject").as_deref(), Some("Message from Acme Support"));
    assert!(mail[0].header("To").is_some_and(|to| to.contains("ana@example.com")));
    assert!(mail[0].body().contains("Done: moved to Friday 8pm."), "{}", mail[0].data);
    tick(&s);

    let call = s.inbound_call(&agent, json!([{"say": "Hello, it is Ana"}, {"hangup": true}])).await;
    s.finished_call(&call).await;

    let page = s.get(&format!("/v1/contacts/{ana}/messages")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["contact_id"], ana.as_str());
    assert_eq!(page.body["conversation_id"], conversation.as_str());
    assert_eq!(page.body["contact"], json!({"name": "Ana Silva", "email": "ana@example.com", "phone": ANA}));
    assert_eq!(
        (page.body["total"].as_i64(), page.body["limit"].as_i64(), page.body["offset"].as_i64()),
        (Some(4), Some(50), Some(0))
    );
    let expected = [("call", "contact"), ("email", "agent"), ("whatsapp", "contact"), ("sms", "agent")];
    let expected: Vec<(String, String)> = expected.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
    assert_eq!(kinds(&page.body), expected, "newest first");
    let call_entry = &page.body["messages"][0];
    assert_eq!(call_entry["id"], call.as_str());
    let summary = call_entry["content"].as_str().expect("summary");
    assert!(summary.starts_with("Inbound call, completed,"), "{summary}");
    assert!(summary.contains("Caller: \"Hello, it is Ana\""), "{summary}");
    assert_eq!(page.body["messages"][3]["content"], "Your booking is confirmed.");
    assert!(page.body["messages"][3]["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));

    let window = s.get(&format!("/v1/contacts/{ana}/messages?limit=2&offset=1")).await;
    assert_eq!(window.body["total"], 4);
    assert_eq!((window.body["limit"].as_i64(), window.body["offset"].as_i64()), (Some(2), Some(1)));
    assert_eq!(kinds(&window.body), expected[1..3].to_vec());
    let past_end = s.get(&format!("/v1/contacts/{ana}/messages?offset=10")).await;
    assert_eq!(past_end.body["messages"].as_array().map(Vec::len), Some(0));
    assert_eq!(past_end.body["total"], 4);

    // Sending into the conversation by its id: an SMS, priced like /v1/sms.
    tick(&s);
    let reminder = s
        .post(
            "/v1/messages",
            json!({"conversation_id": conversation, "channel": "sms", "content": "See you Friday", "ai": false}),
        )
        .await;
    assert_eq!(reminder.status, 201, "{}", reminder.body);
    assert_eq!(reminder.body["cost_eur"], 0.14);
    assert_eq!(reminder.body["contact_id"], ana.as_str());
    let latest = s.get(&format!("/v1/contacts/{ana}/messages?limit=1")).await;
    assert_eq!(latest.body["total"], 5);
    assert_eq!(latest.body["messages"][0]["id"], reminder.body["message_id"]);
    assert_eq!(latest.body["messages"][0]["content"], "See you Friday");
    let balance = s.get("/v1/credits").await.body["balance"].as_f64().expect("balance");
    let call_cost = s.get(&format!("/v1/calls/{call}")).await.body["total_cost"].as_f64().expect("cost");
    assert!((balance - (100.0 - 0.28 - call_cost)).abs() < 1e-9, "{balance}");
}

#[tokio::test]
async fn inbound_messages_create_contacts_and_validate_the_sender() {
    let s = TestServer::start().await;
    let created = s
        .post("/v1/simulator/messages", json!({"channel": "email", "from": "New.Person@Example.com", "content": "Hi"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["contact_created"], true);
    let id = created.body["contact_id"].as_str().expect("contact").to_owned();
    let contact = s.get(&format!("/v1/contacts/{id}")).await;
    assert_eq!(contact.body["email"], "new.person@example.com");
    assert_eq!(contact.body["phone"], Value::Null);
    let again = s
        .post(
            "/v1/simulator/messages",
            json!({"channel": "facebook", "from": "new.person@example.com", "content": "Hello?"}),
        )
        .await;
    assert_eq!(again.body["contact_id"], id.as_str());
    assert_eq!(again.body["contact_created"], false);
    let by_phone = s.post("/v1/simulator/messages", json!({"channel": "sms", "from": ANA, "content": "Yes"})).await;
    assert_eq!(by_phone.body["contact_created"], true);

    for bad in [
        json!({"channel": "email", "from": ANA, "content": "x"}),
        json!({"channel": "sms", "from": "ana@example.com", "content": "x"}),
        json!({"channel": "fax", "from": ANA, "content": "x"}),
        json!({"channel": "call", "from": ANA, "content": "x"}),
        json!({"channel": "sms", "from": ANA, "content": ""}),
        json!({"channel": "sms", "from": ANA, "content": "a".repeat(161)}),
    ] {
        let resp = s.post("/v1/simulator/messages", bad.clone()).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn send_message_errors() {
    let s = TestServer::start().await;
    let agent = s.create_agent(json!({"name": "Acme"})).await;
    let phone_only = contact(&s, json!({"phone": ANA})).await;
    let email_only = contact(&s, json!({"email": "bob@example.com"})).await;
    let send = |body: Value| s.post("/v1/messages", body);

    let unknown = send(
        json!({"contact_id": "contact_01aaaaaaaaaaaaaaaaaaaaaaaa", "channel": "sms", "content": "x", "ai": false}),
    )
    .await;
    assert_error(&unknown, 404, "NOT_FOUND");
    let unknown_conv = send(
        json!({"conversation_id": "conv_01aaaaaaaaaaaaaaaaaaaaaaaa", "channel": "sms", "content": "x", "ai": false}),
    )
    .await;
    assert_error(&unknown_conv, 404, "NOT_FOUND");
    let not_a_conv = send(json!({"conversation_id": "msg_1", "channel": "sms", "content": "x", "ai": false})).await;
    assert_error(&not_a_conv, 404, "NOT_FOUND");
    let mismatch = send(json!({"contact_id": phone_only, "conversation_id": format!("conv_{}", &email_only[8..]),
                               "channel": "sms", "content": "x", "ai": false}))
    .await;
    assert_error(&mismatch, 400, "VALIDATION_ERROR");

    let no_email = send(json!({"contact_id": phone_only, "channel": "email", "content": "x", "ai": false})).await;
    assert_error(&no_email, 400, "VALIDATION_ERROR");
    assert!(no_email.body["details"]["channel"].as_str().is_some_and(|m| m.contains("email")));
    let no_phone = send(json!({"contact_id": email_only, "channel": "whatsapp", "content": "x", "ai": false})).await;
    assert_error(&no_phone, 400, "VALIDATION_ERROR");
    let no_sms_phone = send(json!({"contact_id": email_only, "channel": "sms", "content": "x", "ai": false})).await;
    assert_error(&no_sms_phone, 400, "VALIDATION_ERROR");
    let email_off = send(json!({"contact_id": email_only, "channel": "email", "content": "x", "ai": false})).await;
    assert_error(&email_off, 409, "EMAIL_NOT_CONFIGURED");

    for bad in [
        json!({"contact_id": phone_only, "channel": "call", "content": "x", "ai": false}),
        json!({"contact_id": phone_only, "channel": "sms", "content": "", "ai": false}),
        json!({"contact_id": phone_only, "channel": "sms", "content": "a".repeat(161), "ai": false}),
        json!({"contact_id": phone_only, "channel": "sms", "content": "x"}),
        json!({"channel": "sms", "content": "x", "ai": false}),
        json!({"contact_id": phone_only, "channel": "sms", "content": "x", "ai": true}),
        json!({"contact_id": phone_only, "channel": "sms", "content": "x", "ai": false, "subject": "Hi"}),
    ] {
        let resp = send(bad.clone()).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
    }
    let foreign_reply = send(json!({"contact_id": phone_only, "channel": "whatsapp", "content": "x", "ai": false,
                                    "message_id": "msg_01aaaaaaaaaaaaaaaaaaaaaaaa"}))
    .await;
    assert_error(&foreign_reply, 400, "VALIDATION_ERROR");
    let no_agent = send(json!({"contact_id": phone_only, "channel": "whatsapp", "content": "x", "ai": true,
                               "agent_id": "agent_01aaaaaaaaaaaaaaaaaaaaaaaa"}))
    .await;
    assert_error(&no_agent, 404, "NOT_FOUND");
    let paused = s.patch(&format!("/v1/agents/{agent}"), json!({"is_active": false})).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    let inactive =
        send(json!({"contact_id": phone_only, "channel": "whatsapp", "content": "x", "ai": true, "agent_id": agent}))
            .await;
    assert_error(&inactive, 409, "AGENT_INACTIVE");
    let us = contact(&s, json!({"phone": "+14155550123"})).await;
    let no_long_code = send(json!({"contact_id": us, "channel": "sms", "content": "x", "ai": false})).await;
    assert_error(&no_long_code, 400, "VALIDATION_ERROR");
    let japan = contact(&s, json!({"phone": "+81312345678"})).await;
    let unsupported = send(json!({"contact_id": japan, "channel": "sms", "content": "x", "ai": false})).await;
    assert_error(&unsupported, 400, "UNSUPPORTED_COUNTRY");

    // Nothing refused was recorded: the contact still has no conversation.
    assert_error(&s.get(&format!("/v1/contacts/{phone_only}/messages")).await, 404, "NOT_FOUND");
    assert_error(&s.get(&format!("/v1/contacts/{phone_only}/messages?limit=201")).await, 400, "VALIDATION_ERROR");
    assert_error(&s.get(&format!("/v1/contacts/{phone_only}/messages?limit=0")).await, 400, "VALIDATION_ERROR");
    assert_error(&s.get(&format!("/v1/contacts/{phone_only}/messages?offset=-1")).await, 400, "VALIDATION_ERROR");
    assert_error(&s.get("/v1/contacts/contact_01aaaaaaaaaaaaaaaaaaaaaaaa/messages").await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn an_agents_model_writes_the_message_from_the_instruction() {
    let llm =
        ScriptedLlm::start(vec![Reply::Text("Hi Ana, you are moved to Friday at 8pm. See you then!".into())]).await;
    let s = TestServer::start().await;
    let agent = s
        .create_agent(json!({"name": "Booking bot", "system_prompt": "You are Acme's booking assistant.",
                             "llm": {"base_url": llm.base_url(), "model": "test-model"}}))
        .await;
    let ana = contact(&s, json!({"name": "Ana", "phone": ANA})).await;
    let inbound = s
        .post(
            "/v1/simulator/messages",
            json!({"channel": "whatsapp", "from": ANA, "content": "Can I come Friday instead?"}),
        )
        .await;
    let inbound_id = inbound.body["message_id"].as_str().expect("id").to_owned();

    let sent = s
        .post(
            "/v1/messages",
            json!({"contact_id": ana, "channel": "whatsapp", "content": "Confirm the move to Friday 8pm", "ai": true,
                   "agent_id": agent, "message_id": inbound_id}),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    assert_eq!(sent.body["content"], "Hi Ana, you are moved to Friday at 8pm. See you then!");
    assert_eq!(sent.body["ai"], true);
    assert_eq!(sent.body["delivered"], true);
    let requests = llm.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["model"], "test-model");
    let prompt = requests[0]["messages"].to_string();
    assert!(prompt.contains("You are Acme's booking assistant."), "{prompt}");
    assert!(prompt.contains("Confirm the move to Friday 8pm"), "{prompt}");
    assert!(prompt.contains("Can I come Friday instead?"), "the conversation so far: {prompt}");
    let delivered = s.state.channels.simulated().deliveries();
    let last = delivered.last().expect("delivered");
    assert_eq!(last.message.to, ANA);
    assert_eq!(last.message.body, "Hi Ana, you are moved to Friday at 8pm. See you then!");
    let history = s.get(&format!("/v1/contacts/{ana}/messages")).await;
    assert_eq!(history.body["messages"][0]["content"], "Hi Ana, you are moved to Friday at 8pm. See you then!");

    // An agent with no model anywhere (agent, project, org, server) writes nothing.
    let plain = s.create_agent(json!({"name": "No model"})).await;
    let refused = s
        .post(
            "/v1/messages",
            json!({"contact_id": ana, "channel": "whatsapp", "content": "Say hi", "ai": true, "agent_id": plain}),
        )
        .await;
    assert_error(&refused, 409, "LLM_NOT_CONFIGURED");
    let after = s.get(&format!("/v1/contacts/{ana}/messages")).await;
    assert_eq!(after.body["total"], 2, "the inbound message and the AI reply; nothing for the refused one");
    assert_eq!(llm.requests().len(), 1);
}

#[tokio::test]
async fn downstream_failures_are_422_and_record_nothing() {
    // Nothing listens on this port any more: the SMTP server is down.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let llm = ScriptedLlm::start(vec![Reply::Status(500), Reply::Text("word ".repeat(40))]).await;
    let s = TestServer::start_with(move |c| {
        c.email.host = Some("127.0.0.1".into());
        c.email.port = port;
        c.email.security = EmailSecurity::None;
        c.email.from = Some("support@acme.test".into());
        c.email.timeout_seconds = 2;
    })
    .await;
    let agent = s.create_agent(json!({"name": "Writer", "llm": {"base_url": llm.base_url(), "model": "m"}})).await;
    let ana = contact(&s, json!({"phone": ANA, "email": "ana@example.com"})).await;
    let email = s
        .post(
            "/v1/messages",
            json!({"contact_id": ana, "channel": "email", "content": "Hi", "ai": false, "subject": "Hello"}),
        )
        .await;
    assert_error(&email, 422, "DELIVERY_FAILED");
    let model_down = s
        .post(
            "/v1/messages",
            json!({"contact_id": ana, "channel": "whatsapp", "content": "Greet", "ai": true, "agent_id": agent}),
        )
        .await;
    assert_error(&model_down, 422, "LLM_ERROR");
    let too_long = s
        .post(
            "/v1/messages",
            json!({"contact_id": ana, "channel": "sms", "content": "Greet", "ai": true, "agent_id": agent}),
        )
        .await;
    assert_error(&too_long, 422, "LLM_ERROR");
    assert!(too_long.body["message"].as_str().is_some_and(|m| m.contains("160")), "{}", too_long.body);
    let bounced = contact(&s, json!({"phone": switchboard_runtime::messaging::UNDELIVERABLE})).await;
    let refused = s
        .post("/v1/messages", json!({"contact_id": bounced, "channel": "whatsapp", "content": "Hi", "ai": false}))
        .await;
    assert_error(&refused, 422, "DELIVERY_FAILED");
    for id in [&ana, &bounced] {
        assert_error(&s.get(&format!("/v1/contacts/{id}/messages")).await, 404, "NOT_FOUND");
    }

    // An SMS the balance cannot pay.
    switchboard::admin::add_credits(s.store(), &s.boot.org_id, -99.9).await.expect("drain to 0.10");
    let unpaid =
        s.post("/v1/messages", json!({"contact_id": ana, "channel": "sms", "content": "Hi", "ai": false})).await;
    assert_error(&unpaid, 402, "INSUFFICIENT_CREDITS");
    assert_error(&s.get(&format!("/v1/contacts/{ana}/messages")).await, 404, "NOT_FOUND");
}

/// A model endpoint whose host resolves to an internal address is refused
/// without saying which address that is.
#[tokio::test]
async fn a_blocked_model_endpoint_does_not_reveal_its_address() {
    let s = TestServer::start_with(|c| c.dev = false).await;
    let llm = json!({"base_url": "https://localhost:9/v1", "model": "m"});
    let agent = s.create_agent(json!({"name": "Writer", "llm": llm})).await;
    let ana = contact(&s, json!({"phone": ANA})).await;
    let resp = s
        .post(
            "/v1/messages",
            json!({"contact_id": ana, "channel": "whatsapp", "content": "Greet", "ai": true, "agent_id": agent}),
        )
        .await;
    assert_error(&resp, 422, "LLM_ERROR");
    let message = resp.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("not allowed"), "{message}");
    for secret in ["127.0.0.1", "::1", "resolves", "loopback"] {
        assert!(!message.contains(secret), "{message} reveals {secret}");
    }
}
