//! Addresses through the real server: validation, org-wide scoping, the
//! requirements per country, document checks (type by bytes, size), the
//! irreversible submit, the simulated carrier's review outcomes after their
//! delay, the `address.verification.*` webhooks, and deletion while in use.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_testkit::webhook_receiver::WebhookReceiver;

use crate::common::{Resp, TestServer, assert_error, send};

const BOUNDARY: &str = "sb-address-test-boundary";

/// A server whose address reviews land at once and whose carrier worker
/// runs every 20 ms.
pub async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.carrier.address_review_seconds = 0.0;
        c.carrier.poll_interval_ms = 20;
        c.webhooks.poll_interval_ms = 10;
    })
    .await
}

/// A complete one-page PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    png.extend_from_slice(&[0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]);
    png
}

/// A valid address body of `country`.
pub fn address_body(country: &str) -> Value {
    let (street, city, postal) = match country {
        "US" => ("500 Howard St", "San Francisco", "94105"),
        "NL" => ("Keizersgracht 123", "Amsterdam", "1015 CJ"),
        "DE" => ("Friedrichstraße 10", "Berlin", "10117"),
        "GB" => ("10 Downing St", "London", "SW1A 2AA"),
        other => panic!("no sample address for {other}"),
    };
    json!({
        "street_address": street, "city": city, "postal_code": postal, "country_code": country,
        "contact_name": "Anna de Vries", "contact_email": "anna@example.com", "contact_phone": "+31612345678",
    })
}

/// One form part: field name, file name (none for a plain field), content
/// type, bytes.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart body; a part without a file name is a plain field.
fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, file_name, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match file_name {
            Some(name) => format!("Content-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"),
            None => format!("Content-Disposition: form-data; name=\"{field}\"\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        if let Some(content_type) = content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload_body(s: &TestServer, address: &str, body: Vec<u8>) -> Resp {
    let req = s
        .request(Method::POST, &format!("/v1/addresses/{address}/documents"))
        .bearer_auth(s.key())
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body);
    send(req).await
}

/// Uploads `bytes` as a document of type `kind`.
pub async fn upload(s: &TestServer, address: &str, kind: &str, content_type: &str, bytes: &[u8]) -> Resp {
    let body =
        multipart(&[("document_type", None, None, kind.as_bytes()), ("file", Some("doc"), Some(content_type), bytes)]);
    upload_body(s, address, body).await
}

/// Creates an address from `body`; returns its id.
pub async fn create(s: &TestServer, body: Value) -> String {
    let resp = s.post("/v1/addresses", body).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    resp.body["id"].as_str().expect("address id").to_owned()
}

/// Polls check-status until the review has landed; returns the status body.
pub async fn reviewed(s: &TestServer, address: &str) -> Value {
    for _ in 0..200 {
        let resp = s.post(&format!("/v1/addresses/{address}/check-status"), json!({})).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        if resp.body["status"] != "pending" {
            return resp.body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the review of {address} did not land");
}

/// A verified address of the org in `country` (with `city_code` if given).
pub async fn verified_address(s: &TestServer, country: &str, city_code: Option<&str>) -> String {
    let mut body = address_body(country);
    if let Some(code) = city_code {
        body["city_code"] = json!(code);
    }
    let id = create(s, body).await;
    if country != "US" {
        assert_eq!(upload(s, &id, "government_id", "application/pdf", &pdf()).await.status, 201);
    }
    if country == "DE" {
        assert_eq!(upload(s, &id, "proof_of_address", "image/png", &png()).await.status, 201);
    }
    let submitted = s.post(&format!("/v1/addresses/{id}/submit"), json!({})).await;
    assert_eq!(submitted.status, 200, "{}", submitted.body);
    assert_eq!(reviewed(s, &id).await["status"], "verified");
    id
}

#[tokio::test]
async fn addresses_are_validated_listed_and_org_wide() {
    let s = server().await;
    let created = s.post("/v1/addresses", address_body("NL")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["address_id"].as_str().expect("address_id").to_owned();
    assert!(id.starts_with("addr_"));
    assert_eq!(created.body["id"], id.as_str());
    assert_eq!(created.body["status"], "draft");
    assert_eq!(created.body["documents"], json!([]));
    assert!(created.body["rejection_reason"].is_null());

    let mut bad = address_body("NL");
    bad["contact_phone"] = json!("0612345678");
    bad["contact_email"] = json!("anna@");
    bad["postal_code"] = json!("ABCDE");
    bad["city"] = json!(" ");
    let resp = s.post("/v1/addresses", bad).await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
    for field in ["contact_phone", "contact_email", "postal_code", "city"] {
        assert!(resp.body["details"][field].is_string(), "{field}: {}", resp.body);
    }
    let mut bad = address_body("NL");
    bad["country_code"] = json!("XX");
    assert!(s.post("/v1/addresses", bad).await.body["details"]["country_code"].is_string());
    let mut bad = address_body("US");
    bad["city_code"] = json!("415");
    assert!(s.post("/v1/addresses", bad).await.body["details"]["city_code"].is_string());
    let mut missing = address_body("NL");
    missing.as_object_mut().expect("object").remove("contact_name");
    assert_error(&s.post("/v1/addresses", missing).await, 400, "VALIDATION_ERROR");

    let second = create(&s, address_body("DE")).await;
    let page = s.get("/v1/addresses?limit=1").await;
    assert_eq!(page.body["addresses"][0]["id"], second.as_str());
    let cursor = page.body["next_cursor"].as_str().expect("more").to_owned();
    let page2 = s.get(&format!("/v1/addresses?limit=1&after={cursor}")).await;
    assert_eq!(page2.body["addresses"][0]["id"], id.as_str());
    assert!(page2.body["next_cursor"].is_null());

    // Org-wide: the org key without X-Project-Id sees it; another org does not.
    let by_org = s.call(Method::GET, &format!("/v1/addresses/{id}"), Some(s.org_key()), None).await;
    assert_eq!(by_org.status, 200, "{}", by_org.body);
    assert_eq!(by_org.body["street_address"], "Keizersgracht 123");
    let other = switchboard::admin::bootstrap(s.store(), "Other", 100.0).await.expect("org");
    let theirs = Some(other.project_key.as_str());
    assert_error(&s.call(Method::GET, &format!("/v1/addresses/{id}"), theirs, None).await, 404, "NOT_FOUND");
    let list = s.call(Method::GET, "/v1/addresses", theirs, None).await;
    assert_eq!(list.body["addresses"], json!([]));
    assert_error(&s.call(Method::DELETE, &format!("/v1/addresses/{id}"), theirs, None).await, 404, "NOT_FOUND");
    let submit = s.call(Method::POST, &format!("/v1/addresses/{id}/submit"), theirs, None).await;
    assert_error(&submit, 404, "NOT_FOUND");
}

#[tokio::test]
async fn requirements_depend_on_the_country() {
    let s = server().await;
    let us = s.get("/v1/addresses/requirements?country=US").await;
    assert_eq!(us.status, 200, "{}", us.body);
    assert_eq!(us.body["documents"], json!([]));
    assert_eq!(us.body["requires_address"], false);
    let nl = s.get("/v1/addresses/requirements?country=nl").await;
    assert_eq!(nl.body["country_code"], "NL");
    assert_eq!(nl.body["documents"][0]["one_of"], json!(["government_id", "business_registration"]));
    assert_eq!(nl.body["documents"].as_array().map(Vec::len), Some(1));
    let de = s.get("/v1/addresses/requirements?country=DE").await;
    assert_eq!(de.body["local_presence"], true);
    assert_eq!(de.body["documents"][1]["one_of"], json!(["proof_of_address"]));
    assert!(de.body["required_fields"].as_array().is_some_and(|f| f.contains(&json!("city_code"))));
    assert_eq!(de.body["accepted_formats"], json!(["application/pdf", "image/jpeg", "image/png"]));
    assert_eq!(de.body["max_document_bytes"], 10 * 1024 * 1024);
    assert_error(&s.get("/v1/addresses/requirements").await, 400, "VALIDATION_ERROR");
    assert_error(&s.get("/v1/addresses/requirements?country=XX").await, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn documents_are_checked_by_their_bytes_and_size() {
    let s = server().await;
    let id = create(&s, address_body("NL")).await;
    let ok = upload(&s, &id, "government_id", "application/pdf", &pdf()).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let doc = &ok.body["documents"][0];
    assert_eq!(doc["document_type"], "government_id");
    assert_eq!(doc["content_type"], "application/pdf");
    assert_eq!(doc["size_bytes"], pdf().len());
    assert!(doc["id"].as_str().is_some_and(|d| d.starts_with("doc_")));
    let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 0xFF, 0xD9];
    let as_octets = upload(&s, &id, "proof_of_address", "application/octet-stream", &jpeg).await;
    assert_eq!(as_octets.status, 201, "{}", as_octets.body);
    assert_eq!(as_octets.body["documents"][1]["content_type"], "image/jpeg");

    // A text file claiming to be a PDF, and a GIF: refused by their bytes.
    let fake = upload(&s, &id, "government_id", "application/pdf", b"just some text, honestly a pdf").await;
    assert_error(&fake, 415, "UNSUPPORTED_DOCUMENT_TYPE");
    assert_error(
        &upload(&s, &id, "government_id", "image/gif", b"GIF89a\x01\0\x01\0").await,
        415,
        "UNSUPPORTED_DOCUMENT_TYPE",
    );
    // PNG bytes sent as a PDF.
    let mismatch = upload(&s, &id, "government_id", "application/pdf", &png()).await;
    assert_error(&mismatch, 400, "VALIDATION_ERROR");
    assert!(mismatch.body["details"]["file"].is_string());
    let mut big = pdf();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    assert_error(&upload(&s, &id, "government_id", "application/pdf", &big).await, 413, "PAYLOAD_TOO_LARGE");
    let unknown = upload(&s, &id, "selfie", "application/pdf", &pdf()).await;
    assert!(unknown.body["details"]["document_type"].is_string(), "{}", unknown.body);
    let no_type = upload_body(&s, &id, multipart(&[("file", Some("a.pdf"), Some("application/pdf"), &pdf())])).await;
    assert!(no_type.body["details"]["document_type"].is_string(), "{}", no_type.body);
    let no_file = upload_body(&s, &id, multipart(&[("document_type", None, None, b"government_id")])).await;
    assert!(no_file.body["details"]["file"].is_string(), "{}", no_file.body);
    let not_multipart = s.post(&format!("/v1/addresses/{id}/documents"), json!({"file": "x"})).await;
    assert_error(&not_multipart, 400, "VALIDATION_ERROR");
    let got = s.get(&format!("/v1/addresses/{id}")).await;
    assert_eq!(got.body["documents"].as_array().map(Vec::len), Some(2));
    assert_error(&upload(&s, "addr_missing", "government_id", "application/pdf", &pdf()).await, 404, "NOT_FOUND");
}

/// Creates an NL address (with `company_name` if given) holding `documents`
/// of (type, bytes), submits it and returns (id, landed status body).
async fn review_of(s: &TestServer, company: Option<&str>, documents: &[(&str, Vec<u8>)]) -> (String, Value) {
    let mut body = address_body("NL");
    if let Some(company) = company {
        body["company_name"] = json!(company);
    }
    let id = create(s, body).await;
    for (kind, bytes) in documents {
        assert_eq!(upload(s, &id, kind, "application/pdf", bytes).await.status, 201);
    }
    let submitted = s.post(&format!("/v1/addresses/{id}/submit"), json!({})).await;
    assert_eq!(submitted.status, 200, "{}", submitted.body);
    let landed = reviewed(s, &id).await;
    (id, landed)
}

#[tokio::test]
async fn submit_is_irreversible_and_reviews_land_with_their_events() {
    let s = server().await;
    let hooks = WebhookReceiver::start().await;
    let hook = s
        .call(
            Method::POST,
            "/v1/webhooks",
            Some(s.org_key()),
            Some(json!({"url": hooks.url("/org"), "events": ["address.verification.pending",
                "address.verification.verified", "address.verification.partially_verified",
                "address.verification.rejected"]})),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);

    let id = create(&s, address_body("NL")).await;
    let early = s.post(&format!("/v1/addresses/{id}/submit"), json!({})).await;
    assert_error(&early, 409, "DOCUMENTS_REQUIRED");
    assert_eq!(s.get(&format!("/v1/addresses/{id}")).await.body["status"], "draft");
    assert_eq!(upload(&s, &id, "government_id", "application/pdf", &pdf()).await.status, 201);
    let submitted = s.post(&format!("/v1/addresses/{id}/submit"), json!({})).await;
    assert_eq!(submitted.status, 200, "{}", submitted.body);
    assert_eq!(submitted.body["status"], "pending");
    assert!(submitted.body["submitted_at"].is_string());
    assert_error(&s.post(&format!("/v1/addresses/{id}/submit"), json!({})).await, 409, "ALREADY_SUBMITTED");
    let late = upload(&s, &id, "proof_of_address", "application/pdf", &pdf()).await;
    assert_error(&late, 409, "ALREADY_SUBMITTED");
    let landed = reviewed(&s, &id).await;
    assert_eq!(landed["status"], "verified");
    assert_eq!(landed["address_id"], id.as_str());
    assert!(landed["reviewed_at"].is_string() && landed["rejection_reason"].is_null());
    assert_error(&s.post(&format!("/v1/addresses/{id}/submit"), json!({})).await, 409, "ALREADY_SUBMITTED");

    // A business registration without company_name: partially verified.
    let (partial, body) = review_of(&s, None, &[("business_registration", pdf())]).await;
    assert_eq!(body["status"], "partially_verified");
    assert!(body["status_reason"].as_str().is_some_and(|r| r.contains("company_name")));
    // A company without its registration: partially verified too.
    let (_, body) = review_of(&s, Some("Acme BV"), &[("government_id", pdf())]).await;
    assert_eq!(body["status"], "partially_verified");
    // A company with its registration: verified.
    let (_, body) = review_of(&s, Some("Acme BV"), &[("business_registration", pdf())]).await;
    assert_eq!(body["status"], "verified");
    // A truncated PDF: rejected, with the reason.
    let truncated = pdf()[..30].to_vec();
    let (rejected, body) = review_of(&s, None, &[("government_id", truncated)]).await;
    assert_eq!(body["status"], "rejected");
    assert!(body["rejection_reason"].as_str().is_some_and(|r| r.contains("government_id")), "{body}");

    let got = hooks
        .wait_until(Duration::from_secs(20), |d| {
            d.iter().filter(|d| d.event() != "address.verification.pending").count() >= 5
        })
        .await;
    // Deliveries run concurrently; event ids are time-ordered.
    let of = |address: &str| -> Vec<(String, Value)> {
        let mut events: Vec<_> = got.iter().filter(|d| d.body["data"]["address_id"] == address).collect();
        events.sort_by_key(|d| d.id().to_owned());
        events.into_iter().map(|d| (d.event().to_owned(), d.body["data"].clone())).collect()
    };
    let first = of(&id);
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(first[0].0, "address.verification.pending");
    assert_eq!(first[0].1["status"], "pending");
    assert_eq!(first[1].0, "address.verification.verified");
    assert_eq!(first[1].1["country_code"], "NL");
    assert_eq!(of(&partial)[1].0, "address.verification.partially_verified");
    let rejection = &of(&rejected)[1];
    assert_eq!(rejection.0, "address.verification.rejected");
    assert!(rejection.1["reason"].as_str().is_some_and(|r| r.contains("truncated")));
    assert!(got.iter().all(|d| d.body["project_id"].is_null()), "address events are org-wide");
}

#[tokio::test]
async fn reviews_land_after_the_carrier_delay() {
    let s = TestServer::start_with(|c| {
        c.carrier.address_review_seconds = 3600.0;
        c.carrier.poll_interval_ms = 20;
    })
    .await;
    let id = create(&s, address_body("US")).await;
    let submitted = s.post(&format!("/v1/addresses/{id}/submit"), json!({})).await;
    assert_eq!(submitted.status, 200, "{}", submitted.body);
    let pending = s.post(&format!("/v1/addresses/{id}/check-status"), json!({})).await;
    assert_eq!(pending.body["status"], "pending");
    assert!(pending.body["review_expected_at"].is_string());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.get(&format!("/v1/addresses/{id}")).await.body["status"], "pending");
    s.store().clock().advance(3_601_000);
    let landed = s.post(&format!("/v1/addresses/{id}/check-status"), json!({})).await;
    assert_eq!(landed.body["status"], "verified", "{}", landed.body);
    assert!(landed.body["review_expected_at"].is_null());
}

#[tokio::test]
async fn an_address_in_use_cannot_be_deleted() {
    let s = server().await;
    verified_address(&s, "US", None).await;
    let nl = verified_address(&s, "NL", None).await;
    let search = s.get("/v1/phone-numbers/search?country_code=NL&type=mobile&limit=1").await;
    let number = search.body["numbers"][0]["phone_number"].as_str().expect("a number").to_owned();
    let bought = s
        .post(
            "/v1/phone-numbers",
            json!({"phone_number": number, "country_code": "NL", "number_type": "mobile", "address_id": nl}),
        )
        .await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    assert_error(&s.delete(&format!("/v1/addresses/{nl}")).await, 409, "ADDRESS_IN_USE");
    let pn = bought.body["id"].as_str().expect("id");
    assert_eq!(s.delete(&format!("/v1/phone-numbers/{pn}")).await.status, 204);
    assert_eq!(s.delete(&format!("/v1/addresses/{nl}")).await.status, 204);
    assert_error(&s.get(&format!("/v1/addresses/{nl}")).await, 404, "NOT_FOUND");
    assert_error(&s.delete(&format!("/v1/addresses/{nl}")).await, 404, "NOT_FOUND");
}
