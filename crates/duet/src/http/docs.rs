//! API documentation: the OpenAPI 3 document generated from the route annotations
//! (`GET /openapi.json`) and a Swagger UI page at `/docs`. The Swagger UI files are
//! embedded in the binary (see `assets/swagger-ui/VERSION`), so the page works with no
//! outside network and under a same-origin content security policy.

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};

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
