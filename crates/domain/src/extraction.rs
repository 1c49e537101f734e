//! Post-call extraction: the JSON Schema a server_url gives in `call.started`,
//! the data filled from the call, and its validation against the schema.

use serde_json::{Map, Value};

/// Whether `schema` is a usable extraction schema: a valid JSON Schema
/// describing an object. Returns why not.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err("must be a JSON Schema with \"type\": \"object\"".into());
    }
    jsonschema::validator_for(schema).map(|_| ()).map_err(|e| format!("not a valid JSON Schema: {e}"))
}

/// Checks extracted data against the schema; returns every violation.
pub fn validate(schema: &Value, data: &Value) -> Result<(), Vec<String>> {
    let validator = jsonschema::validator_for(schema).map_err(|e| vec![format!("invalid schema: {e}")])?;
    let errors: Vec<String> = validator
        .iter_errors(data)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() { e.to_string() } else { format!("{at}: {e}") }
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// What the embedded brain can extract without a language model: each property
/// of the schema whose name is a key of the values collected during the call
/// (metadata set by the server_url, IVR and keypad input).
pub fn from_collected(schema: &Value, collected: &Map<String, Value>) -> Value {
    let properties = schema.get("properties").and_then(Value::as_object);
    let picked: Map<String, Value> = properties
        .into_iter()
        .flatten()
        .filter_map(|(name, _)| collected.get(name).map(|v| (name.clone(), v.clone())))
        .collect();
    Value::Object(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"reason": {"type": "string"}, "urgent": {"type": "boolean"}},
               "required": ["reason"]})
    }

    #[test]
    fn schemas_must_describe_objects() {
        assert!(check_schema(&schema()).is_ok());
        assert!(check_schema(&json!({"type": "string"})).is_err());
        assert!(check_schema(&json!({"type": "object", "properties": {"a": {"type": 12}}})).is_err());
    }

    #[test]
    fn data_is_validated_with_every_violation_named() {
        assert!(validate(&schema(), &json!({"reason": "refund", "urgent": true})).is_ok());
        let errors = validate(&schema(), &json!({"urgent": "yes"})).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("reason")));
        assert!(errors.iter().any(|e| e.starts_with("/urgent")));
    }

    #[test]
    fn the_embedded_brain_takes_collected_values_by_name() {
        let collected = json!({"reason": "billing", "crm_id": 7}).as_object().cloned().unwrap_or_default();
        assert_eq!(from_collected(&schema(), &collected), json!({"reason": "billing"}));
        assert_eq!(from_collected(&schema(), &Map::new()), json!({}));
    }
}
