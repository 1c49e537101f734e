//! IVR menus returned by `call.started`, played on real calls: digits and words
//! pick options, submenus, transfers and hang-ups, wrong or missing input
//! repeats the prompt, and the AI takes over on request or after the repeats.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_testkit::server_url::{Answer, ServerUrlPeer};

use crate::common::TestServer;

async fn call_with_menu(menu: Value, script: Value) -> Value {
    let peer = ServerUrlPeer::start(Answer::Json(json!({"ivr": menu}))).await;
    // At 5x the menu's 3 s timeout is 600 ms of real time: room for a busy
    // machine to be late with the caller's next step (500 ms of call time).
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 5.0).await;
    let agent = s
        .create_agent(json!({"name": "Front desk", "server_url": peer.url(), "first_message": "Hi, I'm the assistant.",
                             "silence_timeout_seconds": 10}))
        .await;
    let resp =
        s.post("/v1/simulator/calls", json!({"agent_id": agent, "from": "+31612345678", "script": script})).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let call = resp.body["call_id"].as_str().unwrap_or_default().to_owned();
    for _ in 0..800 {
        let c = s.get(&format!("/v1/calls/{call}")).await.body;
        if c["ended_at"].is_string() {
            assert_eq!(c["config_source"], "server_url", "{}", c["server_url_error"]);
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("call did not end");
}

fn lines(call: &Value) -> Vec<String> {
    call["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| format!("{}: {}", t["role"].as_str().unwrap_or_default(), t["content"].as_str().unwrap_or_default()))
        .collect()
}

const PROMPT: &str = "Press 1 for opening hours, 2 or say sales for sales.";

fn front_desk() -> Value {
    json!({
        "prompt": PROMPT,
        "options": [
            {"digit": "1", "words": ["hours"], "action": "say", "say": "We are open nine to five."},
            {"digit": "2", "words": ["sales"], "action": "transfer", "destination": "+31850000001", "say": "Connecting you."},
            {"digit": "3", "action": "submenu", "menu": {
                "prompt": "Press 9 to end the call.",
                "options": [{"digit": "9", "action": "hangup", "say": "Goodbye."}]
            }},
            {"digit": "0", "words": ["a person", "assistant"], "action": "agent", "say": "Let me help you myself."}
        ],
        "timeout_seconds": 3,
        "max_repeats": 1
    })
}

#[tokio::test]
async fn digits_and_words_pick_options_and_a_transfer_ends_the_menu() {
    let c = call_with_menu(front_desk(), json!([{"dtmf": "1"}, {"say": "sales please"}, {"wait": 600}])).await;
    assert_eq!(
        lines(&c),
        [
            format!("assistant: {PROMPT}"),
            "assistant: We are open nine to five.".into(),
            format!("assistant: {PROMPT}"),
            "user: sales please".into(),
            "assistant: Connecting you.".into(),
        ]
    );
    assert_eq!(c["disposition"], "transferred");
    assert_eq!(c["transferred_to"], "+31850000001");
    assert_eq!(c["turn_count"], 0, "menu choices are not AI turns");
    assert_eq!(c["metadata"]["ivr_path"][0], json!({"option": "1", "input": {"digit": "1"}}));
    assert_eq!(c["metadata"]["ivr_path"][1], json!({"option": "2", "input": {"speech": "sales please"}}));
}

#[tokio::test]
async fn the_menu_does_not_time_out_while_the_caller_is_speaking() {
    // Twelve words take 4.2 s to say: longer than the menu's 3 s timeout.
    let say = "I would like to speak with somebody from your sales team about my order";
    let c = call_with_menu(front_desk(), json!([{"say": say}, {"wait": 600}])).await;
    assert_eq!(
        lines(&c),
        [format!("assistant: {PROMPT}"), format!("user: {say}"), "assistant: Connecting you.".into()]
    );
    assert_eq!(c["disposition"], "transferred");
}

#[tokio::test]
async fn submenus_and_hangups() {
    let c = call_with_menu(front_desk(), json!([{"dtmf": "3"}, {"dtmf": "9"}, {"wait": 600}])).await;
    assert_eq!(
        lines(&c),
        [format!("assistant: {PROMPT}"), "assistant: Press 9 to end the call.".into(), "assistant: Goodbye.".into()]
    );
    assert_eq!(c["ended_reason"], "agent-hangup");
}

#[tokio::test]
async fn the_caller_can_ask_for_the_ai_and_wrong_input_repeats_the_prompt() {
    let c =
        call_with_menu(front_desk(), json!([{"say": "banana"}, {"say": "can I talk to a person"}, {"hangup": true}]))
            .await;
    assert_eq!(
        lines(&c),
        [
            format!("assistant: {PROMPT}"),
            "user: banana".into(),
            "assistant: Sorry, I didn't get that.".into(),
            format!("assistant: {PROMPT}"),
            "user: can I talk to a person".into(),
            "assistant: Let me help you myself.".into(),
        ]
    );
    assert_eq!(c["ended_reason"], "caller-hangup");
}

#[tokio::test]
async fn silence_repeats_the_prompt_then_hands_the_call_to_the_ai() {
    let c = call_with_menu(front_desk(), json!([{"wait": 600}])).await;
    assert_eq!(
        lines(&c)[..3],
        [format!("assistant: {PROMPT}"), format!("assistant: {PROMPT}"), "assistant: Hi, I'm the assistant.".into()]
    );
    assert_eq!(c["ended_reason"], "silence-timeout", "the AI's own silence timeout ends the call");
    assert_eq!(c["metadata"].get("ivr_path"), None, "no choice was made");
}

#[tokio::test]
async fn an_invalid_menu_falls_back_to_the_agent() {
    let c = {
        let peer = ServerUrlPeer::start(Answer::Json(json!({"ivr": {"prompt": "x", "options": [
            {"digit": "1", "action": "transfer", "destination": "not a number"}
        ]}})))
        .await;
        let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
        let agent = s.create_agent(json!({"name": "A", "server_url": peer.url()})).await;
        let resp = s
            .post(
                "/v1/simulator/calls",
                json!({"agent_id": agent, "from": "+31612345678", "script": [{"hangup": true}]}),
            )
            .await;
        let call = resp.body["call_id"].as_str().unwrap_or_default().to_owned();
        let mut found = Value::Null;
        for _ in 0..400 {
            let c = s.get(&format!("/v1/calls/{call}")).await.body;
            if c["ended_at"].is_string() {
                found = c;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        found
    };
    assert_eq!(c["config_source"], "agent_fallback");
    assert!(
        c["server_url_error"].as_str().is_some_and(|e| e.contains("ivr.options[0].destination")),
        "{}",
        c["server_url_error"]
    );
}

#[tokio::test]
async fn the_assistant_without_a_model_offers_the_menu_back_and_the_caller_can_take_it() {
    let c = call_with_menu(
        front_desk(),
        json!([{"say": "assistant"}, {"say": "Can you fix my car?"}, {"say": "Menu, please"}, {"say": "sales"}, {"wait": 600}]),
    )
    .await;
    let said = lines(&c);
    let fallback = said.iter().find(|l| l.contains("language model")).expect("the brain could not answer");
    assert!(fallback.contains("say menu to hear the options again, or to be put through to someone"), "{said:?}");
    let menu_again = said.iter().rposition(|l| *l == format!("assistant: {PROMPT}")).expect("the menu");
    let asked = said.iter().position(|l| l == "user: Menu, please").expect("asked for it");
    assert!(menu_again > asked, "the menu played again after the caller asked: {said:?}");
    assert_eq!(c["disposition"], "transferred", "and its transfer option works: {said:?}");
    assert_eq!(c["transferred_to"], "+31850000001");
}
