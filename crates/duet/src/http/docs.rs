//! API documentation: the OpenAPI 3 document generated from the route annotations
//! (`GET /openapi.json`) and a Swagger UI page at `/docs`. The Swagger UI files are
//! embedded in the binary (see `assets/swagger-ui/VERSION`), so the page works with no
//! outside network and under a same-origin content security policy.
//!
//! Each handler's annotation lists the answers of its own code. The answers the edge
//! gives whatever the handler are added here, from what the route declares and how it
//! is mounted, so no route repeats them and none can forget one:
//! - [`rate_limited`]: 429 on every route of a rate-limited group ([`super::limited`]);
//! - [`edge_responses`]: 400 for a path id that does not parse ([`super::extract::AppPath`])
//!   and for a JSON body that does not ([`super::extract::AppJson`]), 413 for a body over
//!   the limit, and on routes with `security(("bearer" = []))` ([`super::extract::AuthUser`])
//!   401 and 403 `banned`; and every error answer references `ErrorBody`.
//!
//! `tests/api/schema.rs` checks the document against the server's behaviour, and
//! `.ci/schemathesis.sh` fuzzes the server against the document.

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as OpenApiDoc, Ref, RefOr, Response, Type};
use utoipa::{Modify, OpenApi};

use super::ratelimit::LimitClass;
use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Duet",
        description = "Anonymous matched one-to-one chat. Errors are `{detail, code, request_id, errors?}`; \
                       authenticated calls carry `Authorization: Bearer <access_token>`.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "user", description = "The caller's profile, avatar and status"),
        (name = "meta", description = "Vocabulary for profile forms"),
        (name = "chat", description = "Search, matches and rooms"),
        (name = "admin", description = "Administration (administrators only)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

/// The document's fixed parts; routes add their paths.
pub fn base() -> OpenApiDoc {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Every operation of `openapi`.
fn operations(openapi: &mut OpenApiDoc) -> impl Iterator<Item = &mut Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .filter_map(Option::as_mut)
    })
}

/// Adds an error answer to `operation`: a new response with the error body, or, when
/// the status is already listed, `text` joined to its description (unless `marker`
/// shows it already says so).
fn add_error<'a>(operation: &'a mut Operation, status: u16, marker: &str, text: &str) -> &'a mut Response {
    let responses = &mut operation.responses.responses;
    let key = status.to_string();
    let listed = responses.contains_key(&key);
    let entry = responses.entry(key).or_insert_with(|| RefOr::T(Response::new(text)));
    let RefOr::T(response) = entry else { unreachable!("the document's responses are inline") };
    if listed && !response.description.contains(marker) {
        response.description = format!("{}; {text}", response.description);
    }
    response
}

/// The `Retry-After` header of a 429 or a 503.
fn retry_after() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .description(Some("Seconds to wait"))
        .build()
}

/// 429 on every operation of a group limited by `class` (see [`super::limited`]).
pub(super) fn rate_limited(openapi: &mut OpenApiDoc, class: LimitClass) {
    let text = format!(
        "`rate_limited`: over the {} rate limit (`--rate-{}`) for this address or user; see Retry-After",
        class.label(),
        class.label()
    );
    for operation in operations(openapi) {
        let response = add_error(operation, 429, "rate", &text);
        response.headers.insert("Retry-After".to_owned(), retry_after());
    }
}

/// The answers of the extractors and layers every route passes through (see the
/// module documentation), then the error body on every error answer.
pub(super) fn edge_responses(openapi: &mut OpenApiDoc) {
    for operation in operations(openapi) {
        let has_path_id =
            operation.parameters.iter().flatten().any(|p| matches!(p.parameter_in, ParameterIn::Path));
        let json_body =
            operation.request_body.as_ref().is_some_and(|b| b.content.contains_key("application/json"));
        if json_body {
            add_error(
                operation,
                400,
                "`bad_request`",
                "`bad_request`: a body that is not this JSON, or not sent as `application/json`",
            );
            add_error(
                operation,
                413,
                "`payload_too_large`",
                "`payload_too_large`: a body over `--max-body-bytes`",
            );
        }
        if has_path_id {
            add_error(operation, 400, "path id", "`bad_request`: a path id that is not a number");
        }
        if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
            add_error(
                operation,
                401,
                "`unauthorized`",
                "`unauthorized`: missing, invalid, expired or revoked access token",
            );
            add_error(operation, 403, "`banned`", "`banned`: the account is banned");
        }
        // Every API route passes the database gate (`middleware::database_gate`).
        let response = add_error(
            operation,
            503,
            "`database_unavailable`",
            "`database_unavailable`: the database does not answer; see Retry-After",
        );
        response.headers.insert("Retry-After".to_owned(), retry_after());
        for (status, response) in &mut operation.responses.responses {
            let RefOr::T(response) = response else { continue };
            if status.starts_with('4') || status.starts_with('5') {
                response.content.insert(
                    "application/json".to_owned(),
                    Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                );
            }
        }
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Duet API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"#;

const INIT: &str = r##"window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
"##;

/// Swagger UI sets inline styles, so its page allows them; nothing else is loosened.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes(openapi: OpenApiDoc) -> Router<AppState> {
    let json = openapi.to_json().expect("the OpenAPI document serialises");
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], json) }),
        )
        .route("/docs", get(|| async { page("text/html; charset=utf-8", PAGE.as_bytes()) }))
        .route("/docs/init.js", get(|| async { page("text/javascript", INIT.as_bytes()) }))
        .route(
            "/docs/swagger-ui.css",
            get(|| async { page("text/css", include_bytes!("../../assets/swagger-ui/swagger-ui.css")) }),
        )
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async {
                page("text/javascript", include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"))
            }),
        )
}

fn page(content_type: &'static str, body: &'static [u8]) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
}
