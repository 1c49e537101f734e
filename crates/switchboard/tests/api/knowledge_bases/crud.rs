//! Knowledge bases and entries: CRUD, pages, validation, org-wide scope, and
//! attaching knowledge bases to agents.

use reqwest::Method;
use serde_json::{Value, json};

use super::{add_entry, create_kb, id};
use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn create_get_list_patch_and_delete() {
    let s = TestServer::start().await;
    let kb = create_kb(&s, json!({"name": " Product FAQ ", "description": "Common product questions"})).await;
    assert!(kb["id"].as_str().is_some_and(|i| i.starts_with("kb_")));
    assert_eq!(kb["public_id"], kb["id"]);
    assert_eq!(kb["name"], "Product FAQ");
    assert_eq!(kb["status"], "active");
    assert_eq!(kb["last_refresh_status"], "idle");
    assert_eq!(kb["crawl_frequency"], "weekly");
    assert_eq!(kb["auto_refresh_enabled"], true);
    assert_eq!((kb["max_depth"].as_i64(), kb["max_pages"].as_i64()), (Some(3), Some(100)));
    assert_eq!(kb["entry_count"], 0);
    assert_eq!(kb["source_url"], Value::Null);
    assert_eq!(kb["last_crawled_at"], Value::Null);
    let kb_id = id(&kb);

    for name in ["Second", "Third"] {
        create_kb(&s, json!({"name": name})).await;
    }
    let first = s.get("/v1/knowledge-bases?limit=2").await;
    assert_eq!(first.status, 200);
    let names: Vec<&str> =
        first.body["knowledge_bases"].as_array().into_iter().flatten().filter_map(|k| k["name"].as_str()).collect();
    assert_eq!(names, ["Third", "Second"], "newest first");
    let cursor = first.body["next_cursor"].as_str().expect("a cursor").to_owned();
    let second = s.get(&format!("/v1/knowledge-bases?limit=2&after={cursor}")).await;
    assert_eq!(second.body["knowledge_bases"][0]["id"], kb["id"]);
    assert_eq!(second.body["next_cursor"], Value::Null);
    assert_error(&s.get("/v1/knowledge-bases?limit=0").await, 400, "VALIDATION_ERROR");

    let patched = s
        .patch(
            &format!("/v1/knowledge-bases/{kb_id}"),
            json!({"crawl_frequency": "daily", "description": null, "max_pages": 50}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["crawl_frequency"], "daily");
    assert_eq!(patched.body["description"], Value::Null);
    assert_eq!(patched.body["max_pages"], 50);
    assert_eq!(patched.body["name"], "Product FAQ", "unsent fields stay");
    assert_eq!(s.get(&format!("/v1/knowledge-bases/{kb_id}")).await.body["max_pages"], 50);

    add_entry(&s, &kb_id, "Hours?", "Nine to five.").await;
    assert_eq!(s.delete(&format!("/v1/knowledge-bases/{kb_id}")).await.status, 204);
    let gone = s.get(&format!("/v1/knowledge-bases/{kb_id}")).await;
    assert_error(&gone, 404, "NOT_FOUND");
    assert_eq!(gone.body["message"], "Knowledge base not found");
    assert_error(&s.get(&format!("/v1/knowledge-bases/{kb_id}/entries")).await, 404, "NOT_FOUND");
    assert_error(&s.delete(&format!("/v1/knowledge-bases/{kb_id}")).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn bad_input_is_a_validation_error_naming_the_field() {
    let s = TestServer::start().await;
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "a", "max_depth": 9}), "max_depth"),
        (json!({"name": "a", "max_pages": 0}), "max_pages"),
        (json!({"name": "a", "crawl_frequency": "hourly"}), "crawl_frequency"),
        (json!({"name": "a", "source_url": "ftp://files.example"}), "source_url"),
        (json!({"name": "a", "sourceUrl": "https://x.example"}), "sourceUrl"),
    ];
    for (body, field) in cases {
        let resp = s.post("/v1/knowledge-bases", body.clone()).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert!(resp.body["details"][field].is_string(), "{body} → {}", resp.body);
    }
    let kb = id(&create_kb(&s, json!({"name": "a"})).await);
    let resp = s.patch(&format!("/v1/knowledge-bases/{kb}"), json!({"max_depth": -1})).await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert_eq!(resp.body["details"]["max_depth"], "Must be between 0 and 5.");
    assert_eq!(
        s.get(&format!("/v1/knowledge-bases/{kb}")).await.body["max_depth"],
        3,
        "a refused patch changes nothing"
    );
    let refresh = s.post(&format!("/v1/knowledge-bases/{kb}/refresh"), json!({})).await;
    assert_error(&refresh, 409, "NO_SOURCE_URL");
}

#[tokio::test]
async fn knowledge_bases_are_org_wide_and_invisible_to_other_orgs() {
    let s = TestServer::start().await;
    let kb = id(&create_kb(&s, json!({"name": "Shared"})).await);
    // An org key needs no X-Project-Id for org-wide resources.
    let listed = s.call(Method::GET, "/v1/knowledge-bases", Some(s.org_key()), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["knowledge_bases"][0]["id"], kb.as_str());
    let other = switchboard::admin::bootstrap(s.store(), "Other", 100.0).await.expect("org");
    let key = Some(other.project_key.as_str());
    let foreign_get = s.call(Method::GET, &format!("/v1/knowledge-bases/{kb}"), key, None).await;
    assert_error(&foreign_get, 404, "NOT_FOUND");
    let entry = json!({"question": "q", "answer": "a"});
    let foreign_entry = s.call(Method::POST, &format!("/v1/knowledge-bases/{kb}/entries"), key, Some(entry)).await;
    assert_error(&foreign_entry, 404, "NOT_FOUND");
    let search = json!({"query": "q"});
    let foreign_search = s.call(Method::POST, &format!("/v1/knowledge-bases/{kb}/search"), key, Some(search)).await;
    assert_error(&foreign_search, 404, "NOT_FOUND");
    let foreign_delete = s.call(Method::DELETE, &format!("/v1/knowledge-bases/{kb}"), key, None).await;
    assert_error(&foreign_delete, 404, "NOT_FOUND");
    let theirs = s.call(Method::GET, "/v1/knowledge-bases", key, None).await;
    assert_eq!(theirs.body["knowledge_bases"], json!([]));
}

#[tokio::test]
async fn entries_crud_and_edits_become_manual() {
    let s = TestServer::start().await;
    let kb = id(&create_kb(&s, json!({"name": "FAQ"})).await);
    let base = format!("/v1/knowledge-bases/{kb}/entries");
    let created = s
        .post(&base, json!({"question": " What are your hours? ", "answer": "Nine to five.", "source": "handbook"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.body["id"].as_str().is_some_and(|i| i.starts_with("kbe_")));
    assert_eq!(created.body["question"], "What are your hours?");
    assert_eq!(created.body["origin"], "manual");
    assert_eq!(created.body["source"], "handbook");
    assert_eq!(created.body["knowledge_base_id"], kb.as_str());
    let entry = id(&created.body);
    for i in 0..3 {
        add_entry(&s, &kb, &format!("Question {i}?"), "An answer long enough.").await;
    }
    assert_eq!(s.get(&format!("/v1/knowledge-bases/{kb}")).await.body["entry_count"], 4);
    let page = s.get(&format!("{base}?limit=3")).await;
    assert_eq!(page.body["entries"].as_array().map(Vec::len), Some(3));
    let rest = s.get(&format!("{base}?limit=3&after={}", page.body["next_cursor"].as_str().unwrap_or_default())).await;
    assert_eq!(rest.body["entries"][0]["id"], entry.as_str());
    assert_eq!(rest.body["next_cursor"], Value::Null);

    let patched = s.patch(&format!("{base}/{entry}"), json!({"answer": "Nine to six.", "source": null})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["answer"], "Nine to six.");
    assert_eq!(patched.body["question"], "What are your hours?");
    assert_eq!(patched.body["source"], Value::Null);
    assert_eq!(s.get(&format!("{base}/{entry}")).await.body["answer"], "Nine to six.");

    let empty = s.post(&base, json!({"question": "", "answer": " "})).await;
    assert_error(&empty, 400, "VALIDATION_ERROR");
    assert!(empty.body["details"]["question"].is_string() && empty.body["details"]["answer"].is_string());
    assert_error(&s.patch(&format!("{base}/{entry}"), json!({"answer": ""})).await, 400, "VALIDATION_ERROR");
    let other_kb = id(&create_kb(&s, json!({"name": "Other"})).await);
    let wrong_kb = s.get(&format!("/v1/knowledge-bases/{other_kb}/entries/{entry}")).await;
    assert_error(&wrong_kb, 404, "NOT_FOUND");
    assert_eq!(wrong_kb.body["message"], "Entry not found");

    assert_eq!(s.delete(&format!("{base}/{entry}")).await.status, 204);
    assert_error(&s.get(&format!("{base}/{entry}")).await, 404, "NOT_FOUND");
    assert_eq!(s.get(&format!("/v1/knowledge-bases/{kb}")).await.body["entry_count"], 3);
}

#[tokio::test]
async fn agents_attach_only_knowledge_bases_of_their_org_and_lose_deleted_ones() {
    let s = TestServer::start().await;
    let unknown = "kb_01jz0000000000000000000000";
    let refused = s.post("/v1/agents", json!({"name": "A", "knowledge_base_ids": [unknown]})).await;
    assert_error(&refused, 400, "VALIDATION_ERROR");
    assert_eq!(refused.body["details"]["knowledge_base_ids"], format!("Unknown knowledge base: {unknown}."));
    let other = switchboard::admin::bootstrap(s.store(), "Other", 100.0).await.expect("org");
    let theirs =
        s.call(Method::POST, "/v1/knowledge-bases", Some(&other.project_key), Some(json!({"name": "Theirs"}))).await;
    let theirs = id(&theirs.body);
    let foreign = s.post("/v1/agents", json!({"name": "A", "knowledge_base_ids": [theirs]})).await;
    assert_error(&foreign, 400, "VALIDATION_ERROR");

    let kb = id(&create_kb(&s, json!({"name": "Ours"})).await);
    let agent = s.create_agent(json!({"name": "A", "knowledge_base_ids": [kb]})).await;
    let patch = s.patch(&format!("/v1/agents/{agent}"), json!({"knowledge_base_ids": [kb, unknown]})).await;
    assert_error(&patch, 400, "VALIDATION_ERROR");
    assert_eq!(s.get(&format!("/v1/agents/{agent}")).await.body["knowledge_base_ids"], json!([kb]));

    assert_eq!(s.delete(&format!("/v1/knowledge-bases/{kb}")).await.status, 204);
    assert_eq!(s.get(&format!("/v1/agents/{agent}")).await.body["knowledge_base_ids"], json!([]));
    let audit = s.get(&format!("/v1/agents/{agent}/audit-log")).await.body;
    assert_eq!(audit["entries"][0]["changes"]["knowledge_base_ids"], json!({"from": [kb], "to": []}));
}
