//! Phone numbers through the real server: the country catalogue, search
//! filters and defaults, the address gate, every purchase rule, the owned
//! numbers with tenant isolation, inbound routing and outbound caller ids,
//! and the 28-day renewals on the store's clock.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::phone_numbers::BILLING_CYCLE_MS;
use switchboard_domain::time::{iso, parse_iso};

use crate::addresses::{address_body, create, server, verified_address};
use crate::common::{TestServer, assert_error};

/// The first `n` numbers a search answers.
async fn search(s: &TestServer, query: &str) -> Vec<Value> {
    let resp = s.get(&format!("/v1/phone-numbers/search?{query}")).await;
    assert_eq!(resp.status, 200, "{query}: {}", resp.body);
    resp.body["numbers"].as_array().cloned().unwrap_or_default()
}

async fn first_number(s: &TestServer, query: &str) -> String {
    search(s, query).await[0]["phone_number"].as_str().expect("a number").to_owned()
}

async fn balance(s: &TestServer) -> f64 {
    s.get("/v1/credits").await.body["balance"].as_f64().expect("balance")
}

/// Buys the first US local number of `area`; returns the owned number.
async fn buy_us(s: &TestServer, area: &str) -> Value {
    let number = first_number(s, &format!("area_code={area}&limit=1")).await;
    let resp = s.post("/v1/phone-numbers", json!({"phone_number": number})).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    resp.body
}

#[tokio::test]
async fn countries_are_the_authoritative_list() {
    let s = server().await;
    let resp = s.get("/v1/phone-numbers/countries").await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let countries = resp.body["countries"].as_array().expect("countries");
    let codes: Vec<&str> = countries.iter().filter_map(|c| c["country_code"].as_str()).collect();
    for code in ["US", "CA", "GB", "NL", "DE", "FR", "IT", "ES", "BE", "AT", "SE", "DK", "AU"] {
        assert!(codes.contains(&code), "{code}");
    }
    let get = |code: &str| countries.iter().find(|c| c["country_code"] == code).cloned().expect("country");
    let (us, nl, de, dk) = (get("US"), get("NL"), get("DE"), get("DK"));
    assert_eq!(us["requires_address"], false);
    assert_eq!(us["number_types"], json!(["local", "toll_free"]));
    assert_eq!(us["code_filter"], "area_code");
    assert_eq!(us["dialing_code"], "+1");
    assert_eq!(nl["requires_address"], true);
    assert_eq!(nl["local_presence"], false);
    assert_eq!(nl["number_types"], json!(["local", "mobile", "toll_free"]));
    assert!(nl["local_areas"].as_array().is_some_and(|a| a.contains(&json!(
        {"code": "020", "city": "Amsterdam", "region": "Noord-Holland"}
    ))));
    assert_eq!(de["local_presence"], true);
    assert_eq!(get("ES")["local_presence"], true);
    assert_eq!(dk["code_filter"], Value::Null);
    assert_eq!(us["monthly_cost_eur"], 5.0);
    let by_org_key = s.call(Method::GET, "/v1/phone-numbers/countries", Some(s.org_key()), None).await;
    assert_eq!(by_org_key.status, 200);
}

#[tokio::test]
async fn search_applies_every_filter_and_default() {
    let s = server().await;
    let default = search(&s, "").await;
    assert_eq!(default.len(), 20);
    for n in &default {
        let number = n["phone_number"].as_str().expect("number");
        assert!(number.starts_with("+1") && number.len() == 12, "{number}");
        assert_eq!(n["type"], "local");
        assert_eq!(n["country_code"], "US");
        assert!(n["area_code"].as_str().is_some_and(|a| number[2..].starts_with(a)));
        assert!(n["city_code"].is_null());
        assert_eq!(n["monthly_cost_eur"], 5.0);
        assert_ne!(&number[5..8], "555", "fictional exchange");
    }
    assert_eq!(search(&s, "").await, default, "the inventory is deterministic");
    assert_eq!(search(&s, "limit=100").await.len(), 100);
    assert_eq!(search(&s, "limit=3").await.len(), 3);
    let sf = search(&s, "area_code=415&limit=50").await;
    assert_eq!(sf.len(), 50);
    assert!(sf.iter().all(|n| n["phone_number"].as_str().is_some_and(|p| p.starts_with("+1415"))));
    assert!(sf.iter().all(|n| n["city"] == "San Francisco" && n["region"] == "CA"));
    let toll_free = search(&s, "type=toll_free").await;
    assert!(toll_free.iter().all(|n| n["type"] == "toll_free"
        && ["800", "833", "844", "855", "866", "877", "888"].contains(&n["area_code"].as_str().unwrap_or(""))));
    let contains = search(&s, "contains=42&limit=10").await;
    assert_eq!(contains.len(), 10);
    assert!(contains.iter().all(|n| n["phone_number"].as_str().is_some_and(|p| p[1..].contains("42"))));
    assert!(search(&s, "area_code=999").await.is_empty(), "an area outside the inventory has nothing");
    let ca = search(&s, "country_code=CA&area_code=416&limit=5").await;
    assert!(ca.iter().all(|n| n["phone_number"].as_str().is_some_and(|p| p.starts_with("+1416"))));

    for (query, field) in [
        ("limit=101", "limit"),
        ("limit=0", "limit"),
        ("type=mobile", "type"),
        ("type=landline", "type"),
        ("country_code=XX", "country_code"),
        ("area_code=41", "area_code"),
        ("city_code=020", "city_code"),
        ("contains=4a", "contains"),
        ("limit=ten", "limit"),
    ] {
        let resp = s.get(&format!("/v1/phone-numbers/search?{query}")).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert!(resp.body["details"][field].is_string(), "{query}: {}", resp.body);
    }
}

#[tokio::test]
async fn search_abroad_needs_a_verified_address_in_the_country() {
    let s = server().await;
    for query in ["country_code=NL", "country_code=NL&type=mobile", "country_code=DE&city_code=030"] {
        let resp = s.get(&format!("/v1/phone-numbers/search?{query}")).await;
        assert_error(&resp, 403, "ADDRESS_REQUIRED");
    }
    // A draft address does not open search.
    create(&s, address_body("NL")).await;
    assert_error(&s.get("/v1/phone-numbers/search?country_code=NL").await, 403, "ADDRESS_REQUIRED");
    verified_address(&s, "NL", Some("020")).await;
    let amsterdam = search(&s, "country_code=NL&city_code=020").await;
    assert_eq!(amsterdam.len(), 20);
    for n in &amsterdam {
        let number = n["phone_number"].as_str().expect("number");
        assert!(number.starts_with("+3120") && number.len() == 12, "{number}");
        assert_eq!(n["city_code"], "020");
        assert_eq!(n["city"], "Amsterdam");
        assert!(n["area_code"].is_null());
    }
    let mobile = search(&s, "country_code=NL&type=mobile&limit=5").await;
    assert!(mobile.iter().all(|n| n["phone_number"].as_str().is_some_and(|p| p.starts_with("+316") && p.len() == 12)));
    let free = search(&s, "country_code=NL&type=toll_free&limit=5").await;
    assert!(free.iter().all(|n| n["phone_number"].as_str().is_some_and(|p| p.starts_with("+31800") && p.len() == 10)));
    assert_error(&s.get("/v1/phone-numbers/search?country_code=NL&area_code=415").await, 400, "VALIDATION_ERROR");
    assert_error(
        &s.get("/v1/phone-numbers/search?country_code=NL&type=mobile&city_code=020").await,
        400,
        "VALIDATION_ERROR",
    );
    // The NL address opens NL only.
    assert_error(&s.get("/v1/phone-numbers/search?country_code=DE").await, 403, "ADDRESS_REQUIRED");
    verified_address(&s, "DE", Some("030")).await;
    let berlin = search(&s, "country_code=DE&city_code=030&limit=5").await;
    assert!(berlin.iter().all(|n| n["phone_number"].as_str().is_some_and(|p| p.starts_with("+4930") && p.len() == 13)));
    let de_mobile = search(&s, "country_code=de&type=mobile&limit=5").await;
    assert!(
        de_mobile.iter().all(|n| n["phone_number"].as_str().is_some_and(|p| p.starts_with("+491") && p.len() == 14))
    );
}

#[tokio::test]
async fn us_purchases_need_an_address_on_file_and_credits() {
    let s = server().await;
    let number = first_number(&s, "area_code=212&limit=1").await;
    let no_address = s.post("/v1/phone-numbers", json!({"phone_number": number})).await;
    assert_error(&no_address, 403, "ADDRESS_REQUIRED");
    verified_address(&s, "US", None).await;
    assert_eq!(balance(&s).await, 100.0);
    let bought = s.post("/v1/phone-numbers", json!({"phone_number": number})).await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    let body = &bought.body;
    assert_eq!(body["success"], true);
    assert!(body["id"].as_str().is_some_and(|id| id.starts_with("pn_")));
    assert_eq!(body["phone_number"], number.as_str());
    assert_eq!((body["country_code"].as_str(), body["number_type"].as_str()), (Some("US"), Some("local")));
    assert!(body["agent_id"].is_null() && body["address_id"].is_null());
    let created = body["created_at"].as_str().and_then(parse_iso).expect("created_at");
    let next = body["next_billing_at"].as_str().and_then(parse_iso).expect("next_billing_at");
    assert_eq!(next - created, BILLING_CYCLE_MS);
    assert_eq!(balance(&s).await, 95.0, "the first cycle is charged at purchase");

    // The same number again, and search no longer offers it.
    assert_error(&s.post("/v1/phone-numbers", json!({"phone_number": number})).await, 409, "NUMBER_UNAVAILABLE");
    let again = search(&s, "area_code=212&limit=100").await;
    assert!(again.iter().all(|n| n["phone_number"] != number.as_str()));
    // Numbers the carrier does not offer: fictional, wrong type, wrong country.
    for body in [
        json!({"phone_number": "+14155550100"}),
        json!({"phone_number": number.replace("+1212", "+1213")}),
        json!({"phone_number": again[0]["phone_number"], "number_type": "toll_free"}),
        json!({"phone_number": again[0]["phone_number"], "country_code": "CA"}),
    ] {
        let resp = s.post("/v1/phone-numbers", body).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert!(resp.body["details"]["phone_number"].is_string(), "{}", resp.body);
    }
    // An address_id is optional here, but must be the org's, in the country.
    let us = verified_address(&s, "US", None).await;
    let nl_draft = create(&s, address_body("NL")).await;
    let foreign =
        s.post("/v1/phone-numbers", json!({"phone_number": again[0]["phone_number"], "address_id": nl_draft})).await;
    assert!(foreign.body["details"]["address_id"].is_string(), "{}", foreign.body);
    let with_address =
        s.post("/v1/phone-numbers", json!({"phone_number": again[0]["phone_number"], "address_id": us})).await;
    assert_eq!(with_address.status, 201, "{}", with_address.body);
    assert_eq!(with_address.body["address_id"], us.as_str());
    assert_eq!(balance(&s).await, 90.0);
    let again = search(&s, "area_code=212&limit=100").await;
    let bad = s.post("/v1/phone-numbers", json!({"phone_number": "12", "number_type": "fax", "extra": 1})).await;
    assert_error(&bad, 400, "VALIDATION_ERROR");
    let bad = s.post("/v1/phone-numbers", json!({"phone_number": "12", "number_type": "fax"})).await;
    assert!(bad.body["details"]["phone_number"].is_string() && bad.body["details"]["number_type"].is_string());

    // Below EUR 5.00: 402, nothing charged, nothing bought.
    let org = s.boot.org_id.clone();
    s.store().add_org_credits(&org, -86_000_000).await.expect("drain");
    assert_eq!(balance(&s).await, 4.0);
    let poor = s.post("/v1/phone-numbers", json!({"phone_number": again[0]["phone_number"]})).await;
    assert_error(&poor, 402, "INSUFFICIENT_CREDITS");
    assert_eq!(balance(&s).await, 4.0);
    assert_eq!(s.get("/v1/phone-numbers").await.body["phone_numbers"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn purchases_abroad_follow_the_address_and_city_rules() {
    let s = server().await;
    let nl = verified_address(&s, "NL", Some("020")).await;
    let mobile = first_number(&s, "country_code=NL&type=mobile&limit=1").await;
    let buy = |body: Value| {
        let s = &s;
        async move { s.post("/v1/phone-numbers", body).await }
    };
    let base = json!({"phone_number": mobile, "country_code": "NL", "number_type": "mobile"});
    let missing = buy(base.clone()).await;
    assert_error(&missing, 400, "VALIDATION_ERROR");
    assert!(missing.body["details"]["address_id"].is_string());
    let mut with = base.clone();
    with["address_id"] = json!("addr_01hzzzzzzzzzzzzzzzzzzzzzzz");
    assert_error(&buy(with).await, 404, "NOT_FOUND");
    let draft = create(&s, address_body("NL")).await;
    let mut with = base.clone();
    with["address_id"] = json!(draft);
    assert_error(&buy(with).await, 409, "ADDRESS_NOT_VERIFIED");
    let de = verified_address(&s, "DE", Some("030")).await;
    let mut with = base.clone();
    with["address_id"] = json!(de);
    let wrong_country = buy(with).await;
    assert_error(&wrong_country, 400, "VALIDATION_ERROR");
    assert!(wrong_country.body["details"]["address_id"].is_string());
    let other = switchboard::admin::bootstrap(s.store(), "Other", 100.0).await.expect("org");
    let theirs = s.call(Method::POST, "/v1/addresses", Some(&other.project_key), Some(address_body("NL"))).await;
    let mut with = base.clone();
    with["address_id"] = theirs.body["id"].clone();
    assert_error(&buy(with).await, 404, "NOT_FOUND");
    let mut with = base.clone();
    with["address_id"] = json!(nl);
    let bought = buy(with).await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    assert_eq!(bought.body["address_id"], nl.as_str());

    // Germany: local numbers need the address's city code, and a number in it.
    let berlin = first_number(&s, "country_code=DE&city_code=030&limit=1").await;
    let munich = first_number(&s, "country_code=DE&city_code=089&limit=1").await;
    let de_local = |number: &str, city: Option<&str>| {
        let mut body = json!({"phone_number": number, "country_code": "DE", "address_id": de});
        if let Some(code) = city {
            body["city_code"] = json!(code);
        }
        body
    };
    let no_city = buy(de_local(&berlin, None)).await;
    assert_error(&no_city, 400, "VALIDATION_ERROR");
    assert!(no_city.body["details"]["city_code"].is_string());
    let other_city = buy(de_local(&munich, Some("089"))).await;
    assert!(other_city.body["details"]["city_code"].as_str().is_some_and(|m| m.contains("030")), "{}", other_city.body);
    let wrong_number = buy(de_local(&munich, Some("030"))).await;
    assert!(wrong_number.body["details"]["phone_number"].is_string(), "{}", wrong_number.body);
    let ok = buy(de_local(&berlin, Some("030"))).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.body["city_code"], "030");
    // Mobile numbers have no local-presence rule.
    let de_mobile = first_number(&s, "country_code=DE&type=mobile&limit=1").await;
    let ok =
        buy(json!({"phone_number": de_mobile, "country_code": "DE", "number_type": "mobile", "address_id": de})).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert!(ok.body["city_code"].is_null());
    assert_eq!(balance(&s).await, 85.0);
}

/// Creates a second project of the org and a key for it.
async fn second_project_key(s: &TestServer) -> String {
    let project = s.call(Method::POST, "/v1/org/projects", Some(s.org_key()), Some(json!({"name": "Second"}))).await;
    assert_eq!(project.status, 201, "{}", project.body);
    let id = project.body["id"].as_str().expect("project id");
    let key = s.call(Method::POST, &format!("/v1/org/projects/{id}/api-keys"), Some(s.org_key()), None).await;
    assert_eq!(key.status, 201, "{}", key.body);
    key.body["key"].as_str().expect("key").to_owned()
}

#[tokio::test]
async fn owned_numbers_are_listed_assigned_and_released_per_project() {
    let s = server().await;
    verified_address(&s, "US", None).await;
    let first = buy_us(&s, "415").await;
    let second = buy_us(&s, "617").await;
    let (a, b) = (first["id"].as_str().expect("id"), second["id"].as_str().expect("id"));
    let page = s.get("/v1/phone-numbers?limit=1").await;
    assert_eq!(page.body["phone_numbers"][0]["id"], b);
    let cursor = page.body["next_cursor"].as_str().expect("cursor").to_owned();
    let page2 = s.get(&format!("/v1/phone-numbers?limit=1&after={cursor}")).await;
    assert_eq!(page2.body["phone_numbers"][0]["id"], a);
    assert!(page2.body["next_cursor"].is_null());
    let got = s.get(&format!("/v1/phone-numbers/{a}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["phone_number"], first["phone_number"]);
    assert!(got.body.get("success").is_none());

    let agent = s.create_agent(json!({"name": "Reception"})).await;
    let assigned = s.patch(&format!("/v1/phone-numbers/{a}"), json!({"agent_id": agent})).await;
    assert_eq!(assigned.status, 200, "{}", assigned.body);
    assert_eq!(assigned.body["agent_id"], agent.as_str());
    let inactive = s.create_agent(json!({"name": "Off", "is_active": false})).await;
    let refused = s.patch(&format!("/v1/phone-numbers/{a}"), json!({"agent_id": inactive})).await;
    assert_error(&refused, 409, "AGENT_UNAVAILABLE");
    let unknown = s.patch(&format!("/v1/phone-numbers/{a}"), json!({"agent_id": "agent_nope"})).await;
    assert_error(&unknown, 404, "NOT_FOUND");
    assert_error(&s.patch(&format!("/v1/phone-numbers/{a}"), json!({})).await, 400, "VALIDATION_ERROR");
    assert_eq!(s.get(&format!("/v1/phone-numbers/{a}")).await.body["agent_id"], agent.as_str());
    let unassigned = s.patch(&format!("/v1/phone-numbers/{a}"), json!({"agent_id": null})).await;
    assert_eq!(unassigned.status, 200);
    assert!(unassigned.body["agent_id"].is_null());

    // Another project of the same org sees none of it; X-Project-Id works.
    let key = second_project_key(&s).await;
    let theirs = Some(key.as_str());
    assert_error(&s.call(Method::GET, &format!("/v1/phone-numbers/{a}"), theirs, None).await, 404, "NOT_FOUND");
    let patch = s.call(Method::PATCH, &format!("/v1/phone-numbers/{a}"), theirs, Some(json!({"agent_id": null}))).await;
    assert_error(&patch, 404, "NOT_FOUND");
    assert_error(&s.call(Method::DELETE, &format!("/v1/phone-numbers/{a}"), theirs, None).await, 404, "NOT_FOUND");
    assert_eq!(s.call(Method::GET, "/v1/phone-numbers", theirs, None).await.body["phone_numbers"], json!([]));
    let their_agent = s.call(Method::POST, "/v1/agents", theirs, Some(json!({"name": "Theirs"}))).await;
    let their_agent = their_agent.body["id"].as_str().expect("agent").to_owned();
    let cross = s.patch(&format!("/v1/phone-numbers/{a}"), json!({"agent_id": their_agent})).await;
    assert_error(&cross, 404, "NOT_FOUND");
    let by_org = s
        .request(Method::GET, "/v1/phone-numbers")
        .bearer_auth(s.org_key())
        .header("x-project-id", s.boot.project_id.as_str())
        .send()
        .await
        .expect("request");
    let by_org: Value = by_org.json().await.expect("json");
    assert_eq!(by_org["phone_numbers"].as_array().map(Vec::len), Some(2));
    let no_project = s.call(Method::GET, "/v1/phone-numbers", Some(s.org_key()), None).await;
    assert_error(&no_project, 400, "PROJECT_ID_REQUIRED");

    assert_eq!(s.delete(&format!("/v1/phone-numbers/{a}")).await.status, 204);
    assert_error(&s.get(&format!("/v1/phone-numbers/{a}")).await, 404, "NOT_FOUND");
    assert_error(&s.delete(&format!("/v1/phone-numbers/{a}")).await, 404, "NOT_FOUND");
    let list = s.get("/v1/phone-numbers").await;
    assert_eq!(list.body["phone_numbers"].as_array().map(Vec::len), Some(1));
    let offered = search(&s, "area_code=415&limit=1").await;
    assert_eq!(offered[0]["phone_number"], first["phone_number"], "a released number is for sale again");
    assert_eq!(balance(&s).await, 90.0, "nothing is refunded");
}

#[tokio::test]
async fn inbound_calls_are_routed_by_the_dialled_number() {
    let s = TestServer::start_with(|c| {
        c.carrier.address_review_seconds = 0.0;
        c.carrier.poll_interval_ms = 20;
        c.runtime.clock_speed = 100.0;
    })
    .await;
    verified_address(&s, "US", None).await;
    let owned = buy_us(&s, "305").await;
    let (id, number) = (owned["id"].as_str().expect("id"), owned["phone_number"].as_str().expect("number"));
    let agent = s.create_agent(json!({"name": "Front desk", "first_message": "Hello, front desk."})).await;
    assert_eq!(s.patch(&format!("/v1/phone-numbers/{id}"), json!({"agent_id": agent})).await.status, 200);

    let script = json!([{"say": "Hi there"}, {"hangup": true}]);
    let call = s.post("/v1/simulator/calls", json!({"from": "+31612345678", "to": number, "script": script})).await;
    assert_eq!(call.status, 201, "{}", call.body);
    assert_eq!(call.body["agent_id"], agent.as_str());
    assert_eq!(call.body["to_number"], number);
    let done = s.finished_call(call.body["call_id"].as_str().expect("call id")).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["direction"], "inbound");
    assert!(done["transcript"].as_array().is_some_and(|t| t.iter().any(|turn| turn["content"] == "Hi there")));

    // Unassigned: rejected, no agent.
    assert_eq!(s.patch(&format!("/v1/phone-numbers/{id}"), json!({"agent_id": null})).await.status, 200);
    let rejected = s.post("/v1/simulator/calls", json!({"from": "+31612345678", "to": number, "script": []})).await;
    assert_eq!(rejected.status, 201, "{}", rejected.body);
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(rejected.body["ended_reason"], "number-unassigned");
    assert!(rejected.body["agent_id"].is_null());
    assert_eq!(rejected.body["total_cost"], 0.0);
    let stored = s.get(&format!("/v1/calls/{}", rejected.body["call_id"].as_str().expect("id"))).await;
    assert_eq!(stored.body["disposition"], "rejected");

    // Released: rejected as such; an explicit agent_id still overrides routing.
    assert_eq!(s.delete(&format!("/v1/phone-numbers/{id}")).await.status, 204);
    let released = s.post("/v1/simulator/calls", json!({"from": "+31612345678", "to": number, "script": []})).await;
    assert_eq!(released.body["status"], "rejected");
    assert_eq!(released.body["ended_reason"], "number-released");
    let explicit = s
        .post(
            "/v1/simulator/calls",
            json!({"agent_id": agent, "from": "+31612345678", "to": number, "script": [{"hangup": true}]}),
        )
        .await;
    assert_eq!(explicit.status, 201);
    assert_eq!(explicit.body["agent_id"], agent.as_str());
    let explicit = s.finished_call(explicit.body["call_id"].as_str().expect("call id")).await;

    // Usage tells the same story: two answered calls for the agent, two
    // missed ones that no agent took (and that no agent row shows).
    let usage = s.get("/v1/usage?breakdown=agent").await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    let summary = &usage.body["summary"];
    assert_eq!(summary["total_calls"], 4, "{summary}");
    assert_eq!(summary["completed_calls"], 2, "{summary}");
    assert_eq!(summary["missed_calls"], 2, "{summary}");
    let cost = done["total_cost"].as_f64().unwrap_or_default() + explicit["total_cost"].as_f64().unwrap_or_default();
    assert!((summary["total_cost"].as_f64().unwrap_or(-1.0) - cost).abs() < 1e-9, "{summary}");
    let by_agent = usage.body["by_agent"].as_array().expect("by_agent");
    assert_eq!(by_agent.len(), 1, "{by_agent:?}");
    assert_eq!(by_agent[0]["agent_id"], agent.as_str());
    assert_eq!(by_agent[0]["calls"], 2);

    let unknown =
        s.post("/v1/simulator/calls", json!({"from": "+31612345678", "to": "+14155550199", "script": []})).await;
    assert_error(&unknown, 404, "NOT_FOUND");
    let neither = s.post("/v1/simulator/calls", json!({"from": "+31612345678", "script": []})).await;
    assert_error(&neither, 400, "VALIDATION_ERROR");
    assert!(neither.body["details"]["agent_id"].is_string());
    // Another project dialling this project's number does not reach it.
    let again = buy_us(&s, "404").await;
    let key = second_project_key(&s).await;
    let body = json!({"from": "+31612345678", "to": again["phone_number"], "script": []});
    let foreign = s.call(Method::POST, "/v1/simulator/calls", Some(&key), Some(body)).await;
    assert_error(&foreign, 404, "NOT_FOUND");
}

#[tokio::test]
async fn outbound_calls_use_an_owned_number_as_caller_id() {
    let s = TestServer::start_with(|c| {
        c.carrier.address_review_seconds = 0.0;
        c.runtime.clock_speed = 100.0;
    })
    .await;
    verified_address(&s, "US", None).await;
    let owned = buy_us(&s, "720").await;
    let (id, number) = (owned["id"].as_str().expect("id"), owned["phone_number"].as_str().expect("number"));
    let agent = s.create_agent(json!({"name": "Caller"})).await;
    let call = s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612340001", "phone_number_id": id})).await;
    assert_eq!(call.status, 201, "{}", call.body);
    assert_eq!(call.body["from_number"], number);
    let same = s
        .post(
            "/v1/calls",
            json!({"agent_id": agent, "to": "+31612340001", "phone_number_id": id, "from_number": number}),
        )
        .await;
    assert_eq!(same.status, 201, "{}", same.body);
    let conflict = s
        .post(
            "/v1/calls",
            json!({"agent_id": agent, "to": "+31612340001", "phone_number_id": id, "from_number": "+15550001111"}),
        )
        .await;
    assert_error(&conflict, 400, "VALIDATION_ERROR");
    assert!(conflict.body["details"]["from_number"].is_string());
    let unknown =
        s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612340001", "phone_number_id": "pn_nope"})).await;
    assert_error(&unknown, 404, "NOT_FOUND");
    let key = second_project_key(&s).await;
    let their_agent = s.call(Method::POST, "/v1/agents", Some(&key), Some(json!({"name": "T"}))).await;
    let body = json!({"agent_id": their_agent.body["id"], "to": "+31612340001", "phone_number_id": id});
    assert_error(&s.call(Method::POST, "/v1/calls", Some(&key), Some(body)).await, 404, "NOT_FOUND");
    // Nor as a bare caller id: another project's number is not theirs to call from.
    let body = json!({"agent_id": their_agent.body["id"], "to": "+31612340001", "from_number": number});
    let borrowed = s.call(Method::POST, "/v1/calls", Some(&key), Some(body)).await;
    assert_error(&borrowed, 400, "VALIDATION_ERROR");
    assert!(borrowed.body["details"]["from_number"].as_str().is_some_and(|m| m.contains("this project")));
    let own = s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612340001", "from_number": number})).await;
    assert_eq!(own.status, 201, "the project's own number is a caller id: {}", own.body);
    assert_eq!(s.delete(&format!("/v1/phone-numbers/{id}")).await.status, 204);
    let released = s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612340001", "phone_number_id": id})).await;
    assert_error(&released, 404, "NOT_FOUND");
}

/// Waits until the balance is `expected`.
async fn balance_becomes(s: &TestServer, expected: f64) {
    for _ in 0..300 {
        if balance(s).await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("balance stayed {} instead of {expected}", balance(s).await);
}

#[tokio::test]
async fn numbers_are_charged_once_per_28_day_cycle() {
    let s = server().await;
    verified_address(&s, "US", None).await;
    let owned = buy_us(&s, "512").await;
    let id = owned["id"].as_str().expect("id").to_owned();
    let project = s.boot.project_id.clone();
    let created = owned["created_at"].as_str().and_then(parse_iso).expect("created_at");
    assert_eq!(balance(&s).await, 95.0);

    // Just before the cycle ends nothing happens.
    s.store().clock().advance(BILLING_CYCLE_MS - 60_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(balance(&s).await, 95.0);
    s.store().clock().advance(61_000);
    balance_becomes(&s, 90.0).await;
    let next = s.get(&format!("/v1/phone-numbers/{id}")).await.body["next_billing_at"].clone();
    assert_eq!(next, iso(created + 2 * BILLING_CYCLE_MS));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(balance(&s).await, 90.0, "charged once");

    // Three missed cycles (a server that was down) are each caught up once.
    s.store().clock().advance(3 * BILLING_CYCLE_MS);
    balance_becomes(&s, 75.0).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(balance(&s).await, 75.0);
    assert_eq!(s.store().number_charges(&project, &id).await.expect("charges"), 5);
    let next = s.get(&format!("/v1/phone-numbers/{id}")).await.body["next_billing_at"].clone();
    assert_eq!(next, iso(created + 5 * BILLING_CYCLE_MS));

    // Two workers racing on one due cycle charge it once.
    s.store().clock().advance(BILLING_CYCLE_MS);
    let (a, b, c) = tokio::join!(s.state.numbers.run_once(), s.state.numbers.run_once(), s.state.numbers.run_once());
    let charged: usize = [a, b, c].into_iter().map(|r| r.expect("round").1).sum();
    assert!(charged <= 1, "charged {charged} times");
    balance_becomes(&s, 70.0).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(balance(&s).await, 70.0);
    assert_eq!(s.store().number_charges(&project, &id).await.expect("charges"), 6);
}

#[tokio::test]
async fn a_paused_org_loses_its_numbers_at_the_next_cycle() {
    let s = server().await;
    verified_address(&s, "US", None).await;
    let org = s.boot.org_id.clone();
    s.store().add_org_credits(&org, -94_000_000).await.expect("drain");
    let owned = buy_us(&s, "206").await;
    let id = owned["id"].as_str().expect("id").to_owned();
    assert_eq!(balance(&s).await, 1.0);

    // The renewal is charged into the negative; the org pauses.
    s.store().clock().advance(BILLING_CYCLE_MS);
    balance_becomes(&s, -4.0).await;
    assert_eq!(s.get("/v1/credits").await.body["is_paused"], true);
    assert_eq!(s.get(&format!("/v1/phone-numbers/{id}")).await.status, 200);
    // Still paused at the next cycle: released for non-payment, not charged.
    s.store().clock().advance(BILLING_CYCLE_MS);
    for _ in 0..300 {
        if s.get(&format!("/v1/phone-numbers/{id}")).await.status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_error(&s.get(&format!("/v1/phone-numbers/{id}")).await, 404, "NOT_FOUND");
    assert_eq!(balance(&s).await, -4.0);
}
