//! Unknown query parameters are a 400 naming them, never silently ignored: the
//! names each operation takes are read from the OpenAPI document, so what the
//! reference lists is exactly what the server accepts.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;
use switchboard_domain::validation::FieldErrors;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::{OpenApi, RefOr};

use crate::error::ApiError;

/// The query parameters of every operation, by method and path template.
#[derive(Debug, Default)]
pub struct KnownParams(HashMap<(Method, String), BTreeSet<String>>);

impl KnownParams {
    /// Reads every operation's query parameters from `doc`.
    pub fn from_doc(doc: &OpenApi) -> Self {
        let mut known = HashMap::new();
        for (path, item) in &doc.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let names = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query) => Some(p.name.clone()),
                        _ => None,
                    })
                    .collect();
                known.insert((method, path.clone()), names);
            }
        }
        KnownParams(known)
    }

    /// The names in `query` that the operation does not take, in order, once each.
    fn unknown<'a>(&self, method: &Method, path: &str, query: &'a str) -> Vec<std::borrow::Cow<'a, str>> {
        let Some(names) = self.0.get(&(method.clone(), path.to_owned())) else { return Vec::new() };
        let mut unknown: Vec<_> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(name, _)| name)
            .filter(|name| !names.contains(name.as_ref()))
            .collect();
        unknown.dedup();
        unknown
    }

    /// The message for an unknown parameter of this operation.
    fn message(&self, method: &Method, path: &str) -> String {
        match self.0.get(&(method.clone(), path.to_owned())) {
            Some(names) if !names.is_empty() => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                format!("Unknown query parameter; this operation takes: {}.", names.join(", "))
            }
            _ => "Unknown query parameter; this operation takes none.".to_owned(),
        }
    }
}

/// Answers 400 `VALIDATION_ERROR`, with each unknown name in `details`, when
/// the request's query holds a parameter its operation does not document.
pub async fn reject_unknown(State(known): State<Arc<KnownParams>>, request: Request, next: Next) -> Response {
    let (Some(query), Some(path)) = (request.uri().query(), request.extensions().get::<MatchedPath>()) else {
        return next.run(request).await;
    };
    let unknown = known.unknown(request.method(), path.as_str(), query);
    if unknown.is_empty() {
        return next.run(request).await;
    }
    let message = known.message(request.method(), path.as_str());
    let mut details = FieldErrors::new();
    for name in unknown {
        details.add(name, message.clone());
    }
    ApiError::validation(details).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> KnownParams {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        KnownParams(HashMap::from([
            ((Method::GET, "/v1/calls".to_owned()), names(&["agent_id", "after", "limit"])),
            ((Method::GET, "/v1/calls/{call_id}".to_owned()), names(&[])),
        ]))
    }

    #[test]
    fn only_the_names_an_operation_documents_pass() {
        let k = known();
        assert!(k.unknown(&Method::GET, "/v1/calls", "agent_id=a&limit=5&after=").is_empty());
        assert_eq!(k.unknown(&Method::GET, "/v1/calls", "limit=5&page=2&page=3&sort=x"), vec!["page", "sort"]);
        assert_eq!(k.unknown(&Method::GET, "/v1/calls/{call_id}", "x=1"), vec!["x"]);
        assert!(k.unknown(&Method::GET, "/v1/undocumented", "x=1").is_empty(), "not ours to judge");
        assert_eq!(
            k.message(&Method::GET, "/v1/calls"),
            "Unknown query parameter; this operation takes: after, agent_id, limit."
        );
        assert_eq!(
            k.message(&Method::GET, "/v1/calls/{call_id}"),
            "Unknown query parameter; this operation takes none."
        );
    }
}
