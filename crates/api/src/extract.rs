//! Request extractors that answer bad input in our error format: JSON bodies,
//! query strings and path segments. Framework rejections never reach a client.
//! They are also where text holding a NUL character is refused, for every
//! route at once: PostgreSQL cannot store one (SQLite can), so without this a
//! NUL would be a 500 on one backend and stored data on the other.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// The message for text that holds a NUL character.
pub const NUL_MESSAGE: &str = "Must not contain the NUL character (\\u0000).";

/// A JSON body: `Content-Type: application/json`, well-formed, with the right
/// field types. Failures are 400 `VALIDATION_ERROR` naming the offending field;
/// an oversized body is 413 `PAYLOAD_TOO_LARGE`.
pub struct Json<T>(pub T);

/// Like [`Json`], but an empty body or a JSON `null` is accepted as `None`.
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let has_body = req.headers().get(CONTENT_TYPE).is_some();
        let bytes = if has_body {
            body_bytes(req, state).await?
        } else {
            Bytes::from_request(req, state).await.map_err(body_error)?
        };
        parse_optional_json(&bytes).map(OptionalJson)
    }
}

/// No body, or JSON `null`, is `None`; anything else must be a JSON object
/// (whitespace alone is not JSON).
fn parse_optional_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, ApiError> {
    if bytes.is_empty() || bytes.trim_ascii() == b"null" {
        return Ok(None);
    }
    parse_json(bytes).map(Some)
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let is_json =
        req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(
            |mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.to_ascii_lowercase().ends_with("+json")
            },
        );
    if !is_json {
        return Err(ApiError::invalid_field("Content-Type", "Must be application/json."));
    }
    Bytes::from_request(req, state).await.map_err(body_error)
}

fn body_error(rejection: axum::extract::rejection::BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "Request body is too large.")
    } else {
        ApiError::invalid_field("body", "Could not read the request body.")
    }
}

/// Parses a JSON object body, naming the field path of a type error or of a
/// string holding a NUL character. Every request body of the API is an
/// object; serde would otherwise read an array positionally into a struct.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |e: &serde_json::Error| {
        ApiError::invalid_field("body", format!("Malformed JSON: {}", strip_position(&e.to_string())))
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => ApiError::invalid_field("body", "Must be a JSON object."),
            Err(e) => malformed(&e),
        });
    }
    if let Some(field) = nul_field(bytes) {
        return Err(ApiError::invalid_field(&field, NUL_MESSAGE));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|err| {
        let inner = err.inner();
        if inner.is_syntax() || inner.is_eof() {
            malformed(inner)
        } else {
            ApiError::invalid_field(&field_name(&err.path().to_string()), strip_position(&inner.to_string()))
        }
    })?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

/// Where a JSON body holds a NUL character, in a string or an object key, as
/// a field path like serde's (`tools[0].name`; a key names its object).
/// JSON can only spell a NUL as the escape `\u0000`, so a body without that
/// escape is not parsed twice.
fn nul_field(bytes: &[u8]) -> Option<String> {
    if !bytes.windows(6).any(|w| w == br"\u0000") {
        return None;
    }
    // A body that does not parse is answered by the typed parse after this.
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let mut path = String::new();
    holds_nul(&value, &mut path).then(|| field_name(&path))
}

/// Whether `value` holds a NUL; `path` is then the path to it.
fn holds_nul(value: &Value, path: &mut String) -> bool {
    let len = path.len();
    let found = match value {
        Value::String(text) => return text.contains('\0'),
        Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
            path.truncate(len);
            let _ = write!(path, "[{i}]");
            holds_nul(item, path)
        }),
        Value::Object(fields) => fields.iter().any(|(key, item)| {
            path.truncate(len);
            if key.contains('\0') {
                return true;
            }
            if len > 0 {
                path.push('.');
            }
            path.push_str(key);
            holds_nul(item, path)
        }),
        _ => false,
    };
    if !found {
        path.truncate(len);
    }
    found
}

/// A query string, parsed strictly; type errors and NUL characters name the
/// parameter.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        if let Some((name, _)) = form_urlencoded_parse(query).find(|(k, v)| k.contains('\0') || v.contains('\0')) {
            let field = if name.contains('\0') { "query".to_owned() } else { name.into_owned() };
            return Err(ApiError::invalid_field(&field, NUL_MESSAGE));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de).map(Query).map_err(|err| {
            let field = field_name(&err.path().to_string());
            let message = strip_position(&err.inner().to_string());
            ApiError::invalid_field(&field, message)
        })
    }
}

fn form_urlencoded_parse(query: &str) -> url::form_urlencoded::Parse<'_> {
    url::form_urlencoded::parse(query.as_bytes())
}

/// Path segments; a segment that does not parse is a 400 naming the segment,
/// and one holding a NUL character (`%00`) is 404: no id contains one.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Ok(params) = RawPathParams::from_request_parts(parts, state).await
            && params.iter().any(|(_, value)| value.contains('\0'))
        {
            return Err(ApiError::not_found("Resource not found."));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|rejection| ApiError::invalid_field("path", rejection.body_text()))
    }
}

/// serde reports the root as `.`; name it `body` for clients.
fn field_name(path: &str) -> String {
    if path.is_empty() || path == "." { "body".into() } else { path.to_owned() }
}

/// Drops serde_json's " at line 1 column 7" suffix.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        max_duration: Option<i64>,
    }

    #[test]
    fn type_errors_name_the_field() {
        let err = parse_json::<Body>(br#"{"name":"a","max_duration":"long"}"#).unwrap_err();
        let details = err.details.unwrap_or_default();
        assert!(details["max_duration"].starts_with("invalid type"), "{details:?}");
    }

    #[test]
    fn only_objects_are_accepted() {
        for body in [&b"[null, null]"[..], b"\"a\"", b"1", b"null"] {
            let err = parse_json::<Body>(body).unwrap_err();
            assert_eq!(err.details.unwrap_or_default()["body"], "Must be a JSON object.");
        }
    }

    #[test]
    fn nul_characters_name_their_field() {
        let nul = |body: &str| parse_json::<Value>(body.as_bytes()).unwrap_err().details.unwrap_or_default();
        assert_eq!(nul(r#"{"name":"a\u0000"}"#)["name"], NUL_MESSAGE);
        assert!(nul(r#"{"a":{"b":[1,"x","\u0000"]}}"#).contains_key("a.b[2]"));
        assert!(nul(r#"{"a":{"k\u0000":1}}"#).contains_key("a"));
        assert!(nul(r#"{"\u0000":1}"#).contains_key("body"));
        assert!(nul(r#"{"a":[{"b":"ok"},{"c":"\u0000"}]}"#).contains_key("a[1].c"));
        // An escaped backslash before `u0000` is text, and a body that does
        // not parse is still a syntax error.
        assert!(parse_json::<Value>(br#"{"name":"a\\u0000"}"#).is_ok());
        let err = parse_json::<Value>(br#"{"name":"\u0000""#).unwrap_err();
        assert!(err.details.unwrap_or_default()["body"].starts_with("Malformed JSON"));
    }

    #[test]
    fn an_optional_body_is_absent_or_null_but_never_whitespace_alone() {
        assert!(parse_optional_json::<Body>(b"").unwrap().is_none());
        assert!(parse_optional_json::<Body>(b" null\n").unwrap().is_none());
        assert_eq!(parse_optional_json::<Body>(br#"{"name":"a"}"#).unwrap().map(|b| b.name).as_deref(), Some("a"));
        for body in [&b"\r"[..], b" ", b"\n\t"] {
            let err = parse_optional_json::<Body>(body).unwrap_err();
            assert!(err.details.unwrap_or_default()["body"].starts_with("Malformed JSON"), "{body:?}");
        }
    }

    #[test]
    fn malformed_json_is_a_body_error() {
        let err = parse_json::<Body>(b"{\"name\":").unwrap_err();
        assert_eq!(err.code, "VALIDATION_ERROR");
        assert!(err.details.unwrap_or_default()["body"].starts_with("Malformed JSON"));
        let err = parse_json::<Body>(br#"{"name":"a"} trailing"#).unwrap_err();
        assert!(err.details.unwrap_or_default().contains_key("body"));
    }
}
