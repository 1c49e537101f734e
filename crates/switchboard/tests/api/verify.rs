//! `POST /v1/verify` through the real server (the matching rules themselves are
//! covered by the domain's 215-row table).

use serde_json::json;

use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn answers_are_verified_with_the_requested_or_default_strategy() {
    let s = TestServer::start().await;
    for (body, verified, match_type) in [
        (json!({"expected": "Smith", "answer": "Smyth"}), true, "phonetic"),
        (json!({"expected": "Smith", "answer": "Johnson"}), false, "phonetic"),
        (json!({"expected": "1234", "answer": "one two three four", "match_type": "numeric"}), true, "numeric"),
        (
            json!({"expected": "1987-04-23", "answer": "April 23rd 1987", "match_type": "fuzzy_date"}),
            true,
            "fuzzy_date",
        ),
        (
            json!({"expected": "1987-04-23", "answer": "April 24th 1987", "match_type": "fuzzy_date"}),
            false,
            "fuzzy_date",
        ),
        (
            json!({"expected": "+31612345678", "answer": "06 12 34 56 78", "match_type": "phone_number"}),
            true,
            "phone_number",
        ),
        (
            json!({"expected": "4111111111111234", "answer": "ends in 1234", "match_type": "last_4_digits"}),
            true,
            "last_4_digits",
        ),
        (json!({"expected": "AB-123", "answer": "ab123", "match_type": "alphanumeric"}), true, "alphanumeric"),
        (
            json!({"expected": "AB123", "answer": "AD123", "match_type": "alphanumeric_fuzzy"}),
            true,
            "alphanumeric_fuzzy",
        ),
    ] {
        let resp = s.post("/v1/verify", body.clone()).await;
        assert_eq!(resp.status, 200, "{body}: {}", resp.body);
        assert_eq!(resp.body, json!({"verified": verified, "match_type": match_type}), "{body}");
    }
}

#[tokio::test]
async fn bad_requests_are_validation_errors() {
    let s = TestServer::start().await;
    let unknown = s.post("/v1/verify", json!({"expected": "a", "answer": "a", "match_type": "vibes"})).await;
    assert_error(&unknown, 400, "VALIDATION_ERROR");
    assert!(unknown.body["details"]["match_type"].as_str().is_some_and(|m| m.contains("fuzzy_date")));
    assert_error(&s.post("/v1/verify", json!({"answer": "a"})).await, 400, "VALIDATION_ERROR");
    assert_error(&s.post("/v1/verify", json!({"expected": "", "answer": "a"})).await, 400, "VALIDATION_ERROR");
    let long = "x".repeat(1001);
    assert_error(&s.post("/v1/verify", json!({"expected": "a", "answer": long})).await, 400, "VALIDATION_ERROR");
}
