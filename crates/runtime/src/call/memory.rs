//! Caller memory inside a platform call: who is calling (by ANI, and by the
//! external ids the server_url names) and what is remembered about them,
//! recalled before the greeting; what the call learned (the server_url's
//! answers, the `remember` tool, extraction), saved when it ends.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchboard_domain::memory::learned::Learned;
use switchboard_domain::memory::scoring::Recommendation;
use switchboard_domain::memory::{EndRequest, IdentityHints, LineType, MemoryRules};
use switchboard_store::Store;
use switchboard_store::memory::{MemoryContext, MemoryEnd, MemoryScope};

/// Variables read as the caller's name, in order of preference.
const NAME_KEYS: &[&str] = &["name", "first_name", "customer_name"];

/// What a call knows about its caller.
#[derive(Debug, Clone)]
pub struct CallerMemory {
    pub org_id: String,
    pub project_id: String,
    /// The caller's number: `from` of an inbound call, `to` of an outbound one.
    pub ani: String,
    /// The caller's ids in the customer's systems, as the server_url named them.
    pub external_ids: BTreeMap<String, String>,
    pub context: MemoryContext,
    pub rules: MemoryRules,
}

impl CallerMemory {
    /// Looks the caller up; a failing lookup only costs the call its memory.
    pub async fn recall(store: &Store, org_id: &str, project_id: &str, ani: &str, rules: &MemoryRules) -> Option<Self> {
        let hints =
            IdentityHints { ani: Some(ani.to_owned()), line_type: line_type_of(ani), ..IdentityHints::default() };
        let scope = MemoryScope { org_id, project_id };
        let context = look_up(store, scope, &hints, rules).await?;
        Some(CallerMemory {
            org_id: org_id.to_owned(),
            project_id: project_id.to_owned(),
            ani: ani.to_owned(),
            external_ids: BTreeMap::new(),
            context,
            rules: rules.clone(),
        })
    }

    /// Recognises the caller again with the external ids the server_url
    /// named; on failure (false) the earlier recognition stands.
    pub async fn recognise_again(&mut self, store: &Store, external_ids: &BTreeMap<String, String>) -> bool {
        self.external_ids.extend(external_ids.clone());
        let scope = MemoryScope { org_id: &self.org_id, project_id: &self.project_id };
        match look_up(store, scope, &self.hints(), &self.rules).await {
            Some(context) => {
                self.context = context;
                true
            }
            None => false,
        }
    }

    /// What the caller is recognised by.
    fn hints(&self) -> IdentityHints {
        IdentityHints {
            ani: Some(self.ani.clone()),
            line_type: line_type_of(&self.ani),
            external_ids: self.external_ids.clone(),
            customer_ref: None,
        }
    }

    /// The `caller` object of `call.started`: `{customer_ref, identity,
    /// open_intents, variables}` (variables as `{key: value}`).
    pub fn payload(&self) -> Value {
        let variables: serde_json::Map<String, Value> =
            self.context.variables.iter().map(|(k, v)| (k.clone(), json!(v.value))).collect();
        json!({
            "customer_ref": self.context.customer_ref,
            "identity": self.context.identity,
            "open_intents": self.context.open_intents,
            "variables": variables,
        })
    }

    fn recognised(&self) -> bool {
        self.context.customer_ref.is_some() && self.context.identity.recommendation == Recommendation::Reuse
    }

    /// The remembered name of a caller recognised well enough to use it.
    pub fn name(&self) -> Option<&str> {
        if !self.recognised() {
            return None;
        }
        NAME_KEYS.iter().find_map(|key| self.context.variables.get(*key)).map(|v| v.value.as_str())
    }

    /// What the model is told about the caller, or `None` for a stranger.
    pub fn prompt(&self) -> Option<String> {
        if !self.recognised() {
            return None;
        }
        let mut lines = vec!["What you remember about this caller from earlier calls:".to_owned()];
        for (key, value) in &self.context.variables {
            lines.push(format!("- {key}: {}", value.value));
        }
        for intent in &self.context.open_intents {
            lines.push(format!("- still open from before: {} ({} calls so far)", intent.intent, intent.attempt_count));
        }
        (lines.len() > 1).then(|| lines.join("\n"))
    }

    /// What the call saves as it ends: its variables and intents, the
    /// caller's external ids, and the call itself (so the number is known
    /// next time). The call journal writes it with the call's end.
    pub fn end(&self, call_id: &str, learned: &Learned) -> MemoryEnd {
        let mut hints = self.hints();
        hints.external_ids.extend(learned.external_ids.clone());
        let request = EndRequest {
            call_id: call_id.to_owned(),
            customer_ref: self.context.customer_ref.clone(),
            hints,
            dnis: None,
            intents: learned.intent_updates(),
            variables: learned.variable_writes(self.rules.default_ttl_seconds),
        };
        MemoryEnd {
            org_id: self.org_id.clone(),
            project_id: self.project_id.clone(),
            request,
            rules: self.rules.clone(),
        }
    }
}

/// What memory knows for these hints; a failing lookup only costs the call
/// its memory.
async fn look_up(
    store: &Store,
    scope: MemoryScope<'_>,
    hints: &IdentityHints,
    rules: &MemoryRules,
) -> Option<MemoryContext> {
    match store.memory_lookup(scope, hints, rules).await {
        Ok(context) => Some(context),
        Err(err) => {
            tracing::warn!(error = %err, "caller memory lookup failed; the call goes on without it");
            None
        }
    }
}

/// What kind of line a number is, from the numbering plan (mobile ranges are
/// known per country; where they are not, `Unknown`).
pub fn line_type_of(number: &str) -> LineType {
    let Ok(parsed) = phonenumber::parse(None, number) else { return LineType::Unknown };
    match parsed.number_type(&phonenumber::metadata::DATABASE) {
        phonenumber::Type::Mobile => LineType::Mobile,
        phonenumber::Type::FixedLine => LineType::Landline,
        phonenumber::Type::Voip => LineType::Voip,
        _ => LineType::Unknown,
    }
}

/// The greeting for a recognised caller whose name is remembered.
pub fn welcome(name: &str, greeting: &str) -> String {
    format!("Welcome back, {name}. {greeting}")
}

/// The string values of extracted data, as variables to remember.
pub fn extracted_variables(data: &Value) -> Vec<(String, String)> {
    let Value::Object(fields) = data else { return Vec::new() };
    fields
        .iter()
        .filter_map(|(key, value)| {
            let text = match value {
                Value::String(s) if !s.trim().is_empty() => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            (key.chars().count() <= 128 && text.chars().count() <= 1024).then(|| (key.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracted_scalars_become_variables() {
        let data = json!({"name": "Jane", "age": 41, "vip": true, "empty": " ", "tags": ["a"], "nested": {"a": 1}});
        let mut vars = extracted_variables(&data);
        vars.sort();
        assert_eq!(
            vars,
            vec![("age".into(), "41".into()), ("name".into(), "Jane".into()), ("vip".into(), "true".into())]
        );
        assert!(extracted_variables(&json!(null)).is_empty());
    }

    #[test]
    fn line_types_come_from_the_numbering_plan() {
        assert_eq!(line_type_of("+31612345678"), LineType::Mobile);
        assert_eq!(line_type_of("+31201234567"), LineType::Landline);
        assert_eq!(line_type_of("not a number"), LineType::Unknown);
    }

    #[test]
    fn welcome_names_the_caller() {
        assert_eq!(welcome("Jane", "How can I help?"), "Welcome back, Jane. How can I help?");
    }
}
