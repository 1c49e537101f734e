//! Limits of caller memory and the checks that turn a wire body into a request
//! the store can run. Failures are Zod-style issues (`path` + `message`), the
//! shape the seed documents for its 400s.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::hints::{IdentityHints, LineType, normalize_ani};
use super::intents::{IntentStatus, IntentUpdate, Resolution};
use super::rules::MemoryRules;
use super::variables::VariableWrite;
use super::wire::{EndBody, IdentityHintsBody, StartBody};

pub const MAX_CALL_ID: usize = 128;
pub const MAX_CUSTOMER_REF: usize = 128;
pub const MAX_DNIS: usize = 64;
pub const MAX_EXTERNAL_IDS: usize = 20;
pub const MAX_NAME: usize = 128;
pub const MAX_VALUE: usize = 1024;
pub const MAX_INTENT: usize = 128;
pub const MAX_INTENT_UPDATES: usize = 20;
pub const MAX_VARIABLES: usize = 100;
pub const MAX_SOURCE: usize = 128;
pub const MAX_RESOLUTION_TYPE: usize = 128;
pub const MAX_EXTERNAL_REFERENCE: usize = 256;

/// One validation failure: where (`["identity_hints", "ani"]`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub path: Vec<String>,
    pub message: String,
}

impl Issue {
    pub fn new(path: &[&str], message: impl Into<String>) -> Self {
        Issue { path: path.iter().map(|s| (*s).to_owned()).collect(), message: message.into() }
    }
}

/// A checked `/v1/calls/start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    pub call_id: String,
    pub hints: IdentityHints,
    pub dnis: Option<String>,
}

/// A checked `/v1/calls/end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndRequest {
    pub call_id: String,
    /// `customer_ref`, or `identity_hints.customer_ref`.
    pub customer_ref: Option<String>,
    /// `identity_hints`, if sent (the `customer_ref` above is not repeated in it).
    pub hints: IdentityHints,
    pub dnis: Option<String>,
    pub intents: Vec<IntentUpdate>,
    pub variables: Vec<VariableWrite>,
}

fn missing(path: &[&str]) -> Issue {
    let field = path.last().copied().unwrap_or("body");
    Issue::new(path, format!("Required field '{field}' is missing"))
}

fn length_issue(path: &[&str], what: &str, value: &str, max: usize) -> Option<Issue> {
    let chars = value.chars().count();
    if value.trim().is_empty() {
        Some(Issue::new(path, format!("{what} must not be empty")))
    } else if chars > max {
        Some(Issue::new(path, format!("{what} must be at most {max} characters")))
    } else {
        None
    }
}

/// The collected issues of one body.
#[derive(Default)]
struct Issues(Vec<Issue>);

impl Issues {
    fn push(&mut self, issue: Option<Issue>) {
        self.0.extend(issue);
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<Issue>> {
        if self.0.is_empty() { Ok(value) } else { Err(self.0) }
    }
}

fn call_id(issues: &mut Issues, value: Option<String>) -> String {
    match value {
        None => {
            issues.push(Some(missing(&["call_id"])));
            String::new()
        }
        Some(id) => {
            issues.push(length_issue(&["call_id"], "call_id", &id, MAX_CALL_ID));
            id
        }
    }
}

/// Checks `identity_hints` (at `path`), returning the hints and the DNIS.
fn hints(
    issues: &mut Issues,
    path: &str,
    body: IdentityHintsBody,
    line_type: LineType,
) -> (IdentityHints, Option<String>) {
    let mut out = IdentityHints { line_type, ..IdentityHints::default() };
    if let Some(raw) = body.ani {
        out.ani = normalize_ani(&raw);
        if out.ani.is_none() {
            issues.push(Some(Issue::new(
                &[path, "ani"],
                "ani must be a phone number in E.164 format, e.g. +14155551234",
            )));
        }
    }
    if let Some(d) = body.dnis.as_ref().filter(|d| d.chars().count() > MAX_DNIS) {
        issues.push(length_issue(&[path, "dnis"], "dnis", d, MAX_DNIS));
    }
    // A blank DNIS is as good as none.
    let dnis = body.dnis.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    let external_ids = body.external_ids.unwrap_or_default();
    if external_ids.len() > MAX_EXTERNAL_IDS {
        issues.push(Some(Issue::new(
            &[path, "external_ids"],
            format!("external_ids must have at most {MAX_EXTERNAL_IDS} entries"),
        )));
    }
    for (name, value) in &external_ids {
        let at = [path, "external_ids", name.as_str()];
        issues.push(length_issue(&at, "external id names", name, MAX_NAME));
        issues.push(length_issue(&at, "external id values", value, MAX_VALUE));
    }
    out.external_ids = external_ids;
    if let Some(r) = body.customer_ref {
        issues.push(length_issue(&[path, "customer_ref"], "customer_ref", &r, MAX_CUSTOMER_REF));
        out.customer_ref = Some(r);
    }
    (out, dnis)
}

const HINTS_NEEDED: &str = "identity_hints must include ani, external_ids, or customer_ref";

/// Checks a `/v1/calls/start` body.
pub fn start_request(body: StartBody) -> Result<StartRequest, Vec<Issue>> {
    let mut issues = Issues::default();
    let call_id = call_id(&mut issues, body.call_id);
    let line_type = body.telco.and_then(|t| t.line_type).unwrap_or_default();
    let (hints, dnis) = match body.identity_hints {
        None => {
            issues.push(Some(missing(&["identity_hints"])));
            (IdentityHints::default(), None)
        }
        Some(raw) => {
            let (hints, dnis) = hints(&mut issues, "identity_hints", raw, line_type);
            if hints.is_empty() && issues.0.is_empty() {
                issues.push(Some(Issue::new(&["identity_hints"], HINTS_NEEDED)));
            }
            (hints, dnis)
        }
    };
    issues.finish(StartRequest { call_id, hints, dnis })
}

fn resolution_issues(issues: &mut Issues, index: &str, r: &Resolution) {
    if let Some(kind) = &r.kind {
        let at = ["intent_updates", index, "resolution", "type"];
        issues.push(length_issue(&at, "resolution.type", kind, MAX_RESOLUTION_TYPE));
    }
    if let Some(reference) = &r.external_reference {
        let at = ["intent_updates", index, "resolution", "external_reference"];
        issues.push(length_issue(&at, "resolution.external_reference", reference, MAX_EXTERNAL_REFERENCE));
    }
}

/// The intents of an end: `intent`/`intent_status` first, then `intent_updates`.
fn intents(issues: &mut Issues, body: &mut EndBody) -> Vec<IntentUpdate> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    match (body.intent.take(), body.intent_status) {
        (Some(intent), status) => {
            issues.push(length_issue(&["intent"], "intent", &intent, MAX_INTENT));
            seen.insert(intent.clone());
            out.push(IntentUpdate { intent, status: status.unwrap_or(IntentStatus::Resolved), resolution: None });
        }
        (None, Some(_)) => issues.push(Some(Issue::new(&["intent"], "intent is required when intent_status is set"))),
        (None, None) => {}
    }
    let updates = body.intent_updates.take().unwrap_or_default();
    if updates.len() + out.len() > MAX_INTENT_UPDATES {
        issues.push(Some(Issue::new(
            &["intent_updates"],
            format!("at most {MAX_INTENT_UPDATES} intents can be updated in one call"),
        )));
    }
    for (i, update) in updates.into_iter().enumerate() {
        let index = i.to_string();
        let intent = match update.intent {
            None => {
                issues.push(Some(missing(&["intent_updates", &index, "intent"])));
                continue;
            }
            Some(intent) => intent,
        };
        issues.push(length_issue(&["intent_updates", &index, "intent"], "intent", &intent, MAX_INTENT));
        if !seen.insert(intent.clone()) {
            issues.push(Some(Issue::new(
                &["intent_updates", &index, "intent"],
                format!("intent '{intent}' is updated more than once"),
            )));
        }
        let Some(status) = update.status else {
            issues.push(Some(missing(&["intent_updates", &index, "status"])));
            continue;
        };
        if let Some(r) = &update.resolution {
            resolution_issues(issues, &index, r);
        }
        out.push(IntentUpdate { intent, status, resolution: update.resolution });
    }
    out
}

fn variable_key_issue(issues: &mut Issues, field: &str, key: &str) {
    issues.push(length_issue(&[field, key], "variable keys", key, MAX_NAME));
}

fn value_issue(path: &[&str], value: &str) -> Option<Issue> {
    (value.chars().count() > MAX_VALUE)
        .then(|| Issue::new(path, format!("variable values must be at most {MAX_VALUE} characters")))
}

/// The variables of an end: `variables` first, then `variable_updates`.
fn variables(issues: &mut Issues, body: &mut EndBody, rules: &MemoryRules) -> Vec<VariableWrite> {
    let simple = body.variables.take().unwrap_or_default();
    let advanced = body.variable_updates.take().unwrap_or_default();
    if simple.len() + advanced.len() > MAX_VARIABLES {
        issues.push(Some(Issue::new(
            &["variables"],
            format!("at most {MAX_VARIABLES} variables can be saved in one call"),
        )));
    }
    let mut out = Vec::with_capacity(simple.len() + advanced.len());
    for (key, value) in simple {
        variable_key_issue(issues, "variables", &key);
        issues.push(value_issue(&["variables", &key], &value));
        out.push(VariableWrite { key, value, source: None, ttl_seconds: rules.default_ttl_seconds });
    }
    let simple_keys: BTreeSet<String> = out.iter().map(|v| v.key.clone()).collect();
    for (key, update) in advanced {
        variable_key_issue(issues, "variable_updates", &key);
        if simple_keys.contains(&key) {
            issues.push(Some(Issue::new(
                &["variable_updates", &key],
                format!("variable '{key}' is also in variables; send it once"),
            )));
        }
        let Some(value) = update.value else {
            issues.push(Some(missing(&["variable_updates", &key, "value"])));
            continue;
        };
        issues.push(value_issue(&["variable_updates", &key, "value"], &value));
        if let Some(source) = &update.source {
            issues.push(length_issue(&["variable_updates", &key, "source"], "source", source, MAX_SOURCE));
        }
        let ttl_seconds = update.ttl_seconds.unwrap_or(rules.default_ttl_seconds);
        if !(1..=rules.max_ttl_seconds).contains(&ttl_seconds) {
            issues.push(Some(Issue::new(
                &["variable_updates", &key, "ttl_seconds"],
                format!("ttl_seconds must be between 1 and {}", rules.max_ttl_seconds),
            )));
        }
        out.push(VariableWrite { key, value, source: update.source, ttl_seconds });
    }
    out
}

/// Checks a `/v1/calls/end` body.
pub fn end_request(mut body: EndBody, rules: &MemoryRules) -> Result<EndRequest, Vec<Issue>> {
    let mut issues = Issues::default();
    let call_id = call_id(&mut issues, body.call_id.take());
    if let Some(r) = &body.customer_ref {
        issues.push(length_issue(&["customer_ref"], "customer_ref", r, MAX_CUSTOMER_REF));
    }
    let (hints, dnis) = match body.identity_hints.take() {
        Some(raw) => {
            let (mut hints, dnis) = hints(&mut issues, "identity_hints", raw, LineType::Unknown);
            if hints.is_empty() && body.customer_ref.is_none() {
                issues.push(Some(Issue::new(&["identity_hints"], HINTS_NEEDED)));
            }
            match (&body.customer_ref, hints.customer_ref.take()) {
                (Some(top), Some(inner)) if *top != inner => issues.push(Some(Issue::new(
                    &["identity_hints", "customer_ref"],
                    "identity_hints.customer_ref must match customer_ref",
                ))),
                (None, Some(inner)) => body.customer_ref = Some(inner),
                _ => {}
            }
            (hints, dnis)
        }
        None => {
            if body.customer_ref.is_none() {
                issues.push(Some(Issue::new(&["customer_ref"], "customer_ref or identity_hints must be provided")));
            }
            (IdentityHints::default(), None)
        }
    };
    let intents = intents(&mut issues, &mut body);
    let variables = variables(&mut issues, &mut body, rules);
    issues.finish(EndRequest { call_id, customer_ref: body.customer_ref, hints, dnis, intents, variables })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn string_map<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    fn start(body: serde_json::Value) -> Result<StartRequest, Vec<Issue>> {
        start_request(serde_json::from_value(body).expect("wire body"))
    }

    fn end(body: serde_json::Value) -> Result<EndRequest, Vec<Issue>> {
        end_request(serde_json::from_value(body).expect("wire body"), &MemoryRules::default())
    }

    fn paths(issues: &[Issue]) -> Vec<String> {
        issues.iter().map(|i| i.path.join(".")).collect()
    }

    #[test]
    fn a_seed_start_is_accepted_and_normalised() {
        let req = start(json!({
            "call_id": "call_001",
            "identity_hints": {"ani": "+1 415 555 1234", "dnis": "+18005550000", "external_ids": {"customer_id": "12345"}},
            "telco": {"line_type": "mobile"}
        }))
        .expect("valid");
        assert_eq!(req.call_id, "call_001");
        assert_eq!(req.hints.ani.as_deref(), Some("+14155551234"));
        assert_eq!(req.hints.line_type, LineType::Mobile);
        assert_eq!(req.hints.external_ids, string_map([("customer_id", "12345")]));
        assert_eq!(req.dnis.as_deref(), Some("+18005550000"));
        let blank = start(json!({"call_id": "c", "identity_hints": {"ani": "+14155551234", "dnis": " "}}));
        assert_eq!(blank.expect("a blank dnis is accepted").dnis, None);
        let padded = format!("{} ", "1".repeat(64));
        let long = start(json!({"call_id": "c", "identity_hints": {"ani": "+14155551234", "dnis": padded}}));
        assert_eq!(paths(&long.expect_err("65 characters")), vec!["identity_hints.dnis"]);
    }

    #[test]
    fn missing_fields_are_named_like_the_seed() {
        let issues = start(json!({})).expect_err("invalid");
        assert_eq!(issues[0], Issue::new(&["call_id"], "Required field 'call_id' is missing"));
        assert_eq!(issues[1], Issue::new(&["identity_hints"], "Required field 'identity_hints' is missing"));
        let issues = start(json!({"call_id": "c", "identity_hints": {"dnis": "+18005550000"}})).expect_err("no hint");
        assert_eq!(
            issues,
            vec![Issue::new(&["identity_hints"], "identity_hints must include ani, external_ids, or customer_ref")]
        );
        let issues = start(json!({"call_id": "c", "identity_hints": {"external_ids": {}}})).expect_err("empty ids");
        assert_eq!(paths(&issues), vec!["identity_hints"]);
    }

    #[test]
    fn start_limits() {
        let long = "x".repeat(129);
        let issues = start(json!({"call_id": long, "identity_hints": {"ani": "555-1234"}})).expect_err("invalid");
        assert_eq!(paths(&issues), vec!["call_id", "identity_hints.ani"]);
        assert_eq!(issues[0].message, "call_id must be at most 128 characters");
        assert!(start(json!({"call_id": "x".repeat(128), "identity_hints": {"customer_ref": "r"}})).is_ok());
        let many: BTreeMap<String, String> = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
        let issues = start(json!({"call_id": "c", "identity_hints": {"external_ids": many}})).expect_err("too many");
        assert_eq!(paths(&issues), vec!["identity_hints.external_ids"]);
        let issues = start(json!({"call_id": " ", "identity_hints": {"external_ids": {"": "1", "crm": ""}}}))
            .expect_err("blank");
        assert_eq!(paths(&issues), vec!["call_id", "identity_hints.external_ids.", "identity_hints.external_ids.crm"]);
    }

    #[test]
    fn the_simple_end_form() {
        let req = end(json!({
            "call_id": "call_001", "customer_ref": "r1", "intent": "billing_inquiry", "intent_status": "open",
            "variables": {"name": "John Doe", "email": "john@example.com"}
        }))
        .expect("valid");
        assert_eq!(req.customer_ref.as_deref(), Some("r1"));
        assert_eq!(
            req.intents,
            vec![IntentUpdate { intent: "billing_inquiry".into(), status: IntentStatus::Open, resolution: None }]
        );
        assert_eq!(req.variables.len(), 2);
        assert!(req.variables.iter().all(|v| v.ttl_seconds == 2_592_000 && v.source.is_none()));
        let plain = end(json!({"call_id": "c", "customer_ref": "r", "intent": "demo_call"})).expect("valid");
        assert_eq!(plain.intents[0].status, IntentStatus::Resolved, "intent_status defaults to resolved");
    }

    #[test]
    fn the_advanced_end_form() {
        let req = end(json!({
            "call_id": "call_001",
            "identity_hints": {"customer_ref": "r1", "ani": "+14155551234"},
            "intent_updates": [
                {"intent": "refund_request", "status": "resolved",
                 "resolution": {"type": "processed", "external_reference": "refund_12345"}},
                {"intent": "account_upgrade", "status": "open"}
            ],
            "variable_updates": {
                "name": {"value": "John Doe", "source": "agent_collected", "ttl_seconds": 7776000},
                "vip_tier": {"value": "Gold"}
            }
        }))
        .expect("valid");
        assert_eq!(req.customer_ref.as_deref(), Some("r1"), "identity_hints.customer_ref is the customer_ref");
        assert_eq!(req.hints.customer_ref, None);
        assert_eq!(req.hints.ani.as_deref(), Some("+14155551234"));
        assert_eq!(req.intents.len(), 2);
        assert_eq!(req.intents[0].resolution.as_ref().and_then(|r| r.kind.as_deref()), Some("processed"));
        let name = req.variables.iter().find(|v| v.key == "name").expect("name");
        assert_eq!((name.source.as_deref(), name.ttl_seconds), (Some("agent_collected"), 7_776_000));
        let tier = req.variables.iter().find(|v| v.key == "vip_tier").expect("vip_tier");
        assert_eq!((tier.source.as_deref(), tier.ttl_seconds), (None, 2_592_000));
    }

    #[test]
    fn end_needs_a_customer() {
        let issues = end(json!({"call_id": "c"})).expect_err("no customer");
        assert_eq!(issues, vec![Issue::new(&["customer_ref"], "customer_ref or identity_hints must be provided")]);
        let issues = end(json!({"call_id": "c", "identity_hints": {}})).expect_err("empty hints");
        assert_eq!(paths(&issues), vec!["identity_hints"]);
        assert!(end(json!({"call_id": "c", "identity_hints": {"external_ids": {"crm": "1"}}})).is_ok());
        let issues = end(json!({"call_id": "c", "customer_ref": "a", "identity_hints": {"customer_ref": "b"}}))
            .expect_err("conflicting refs");
        assert_eq!(paths(&issues), vec!["identity_hints.customer_ref"]);
    }

    #[test]
    fn end_limits() {
        let issues = end(json!({
            "call_id": "c", "customer_ref": "r",
            "intent_status": "open",
            "variables": {"k": "v".repeat(1025)},
            "intent_updates": [{"intent": "a"}, {"status": "open"}, {"intent": "b", "status": "open"},
                               {"intent": "b", "status": "resolved", "resolution": {"type": ""}}],
            "variable_updates": {
                "k": {"value": "v"},
                "t": {"value": "v", "ttl_seconds": 7776001},
                "z": {"value": "v", "ttl_seconds": 0},
                "s": {"value": "v", "source": "x".repeat(129)},
                "n": {"source": "crm"}
            }
        }))
        .expect_err("invalid");
        assert_eq!(
            paths(&issues),
            vec![
                "intent",
                "intent_updates.0.status",
                "intent_updates.1.intent",
                "intent_updates.3.intent",
                "intent_updates.3.resolution.type",
                "variables.k",
                "variable_updates.k",
                "variable_updates.n.value",
                "variable_updates.s.source",
                "variable_updates.t.ttl_seconds",
                "variable_updates.z.ttl_seconds",
            ]
        );
        assert_eq!(issues[9].message, "ttl_seconds must be between 1 and 7776000");
        let ttl_90_days = end(json!({"call_id": "c", "customer_ref": "r",
            "variable_updates": {"t": {"value": "", "ttl_seconds": 7776000}}}));
        assert!(ttl_90_days.is_ok(), "90 days and empty values are fine");
        let many: BTreeMap<String, String> = (0..101).map(|i| (format!("k{i}"), "v".into())).collect();
        let issues = end(json!({"call_id": "c", "customer_ref": "r", "variables": many})).expect_err("too many");
        assert_eq!(paths(&issues), vec!["variables"]);
        let intents: Vec<serde_json::Value> =
            (0..21).map(|i| json!({"intent": format!("i{i}"), "status": "open"})).collect();
        let issues = end(json!({"call_id": "c", "customer_ref": "r", "intent_updates": intents})).expect_err("many");
        assert_eq!(paths(&issues), vec!["intent_updates"]);
    }

    #[test]
    fn ttl_limits_follow_the_rules() {
        let rules = MemoryRules { max_ttl_seconds: 60, default_ttl_seconds: 30, ..MemoryRules::default() };
        let body = |ttl: i64| {
            serde_json::from_value::<EndBody>(json!({"call_id": "c", "customer_ref": "r",
                "variables": {"a": "1"}, "variable_updates": {"b": {"value": "2", "ttl_seconds": ttl}}}))
            .expect("wire")
        };
        let ok = end_request(body(60), &rules).expect("within the max");
        assert_eq!(ok.variables[0].ttl_seconds, 30, "the configured default");
        assert!(end_request(body(61), &rules).is_err());
    }
}
