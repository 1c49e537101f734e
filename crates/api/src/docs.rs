//! The API reference at `/docs`: Swagger UI over `/v1/openapi.json`, every asset
//! served by the binary itself (the UI ships inside the `utoipa-swagger-ui`
//! crate), so the page works with no network at all.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use utoipa_swagger_ui::Config;

/// The page's title, in the browser tab as in the document.
pub const TITLE: &str = "Switchboard API";

/// The reference's routes, reading the document at `spec_url`.
pub fn router<S: Clone + Send + Sync + 'static>(spec_url: &'static str) -> Router<S> {
    // No online validator badge: it would be fetched from the internet.
    let config = Arc::new(Config::new([spec_url]).validator_url("none").try_it_out_enabled(true));
    let index = {
        let config = Arc::clone(&config);
        move || {
            let config = Arc::clone(&config);
            async move { asset("", &config) }
        }
    };
    let file = move |Path(tail): Path<String>| {
        let config = Arc::clone(&config);
        async move { asset(&tail, &config) }
    };
    Router::new()
        .route("/docs", get(|| async { Redirect::permanent("/docs/") }))
        .route("/docs/", get(index))
        .route("/docs/{*tail}", get(file))
}

/// One file of the UI; the index page carries our title.
fn asset(tail: &str, config: &Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve(tail, Arc::clone(config)) {
        Ok(Some(file)) => {
            let body = if file.content_type.starts_with("text/html") {
                retitled(&String::from_utf8_lossy(&file.bytes)).into_bytes()
            } else {
                file.bytes.into_owned()
            };
            ([(header::CONTENT_TYPE, file.content_type)], body).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => crate::error::ApiError::internal(err).into_response(),
    }
}

/// The page with its `<title>` replaced by [`TITLE`].
fn retitled(html: &str) -> String {
    match (html.find("<title>"), html.find("</title>")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}<title>{TITLE}</title>{}", &html[..start], &html[end + "</title>".len()..])
        }
        _ => html.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_retitled_and_everything_else_kept() {
        let page = "<html><head><title>Swagger UI</title><link href=\"./x.css\"></head></html>";
        assert_eq!(retitled(page), "<html><head><title>Switchboard API</title><link href=\"./x.css\"></head></html>");
        assert_eq!(retitled("<p>no title</p>"), "<p>no title</p>");
    }

    #[test]
    fn the_ui_is_served_from_the_binary() {
        let config = Arc::new(Config::new(["/v1/openapi.json"]).validator_url("none"));
        let index = asset("", &config);
        assert_eq!(index.status(), StatusCode::OK);
        let initializer = asset("swagger-initializer.js", &config);
        assert_eq!(initializer.status(), StatusCode::OK);
        assert_eq!(asset("no-such-file.js", &config).status(), StatusCode::NOT_FOUND);
    }
}
