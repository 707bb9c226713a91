//! What every request passes through, outermost first: a request id (generated, or
//! taken from `x-request-id` when that is a short safe token; echoed back), the security headers, CORS when origins
//! are configured, the request span with metrics and the access log line, error
//! bodies that carry the request id, and a panic guard that turns a panic into a 500.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument;

use super::error::{ApiError, ErrorBody, ErrorCode, InternalCause};
use super::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The policy for the web client's pages: only our own scripts, styles, images and
/// sockets; no framing. Routes that need more (the API docs page) set their own.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Wraps the application router in the per-request middleware.
pub fn wrap(app: Router, state: &AppState) -> Router {
    let app = app
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe));
    let app = match cors(state) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.layer(
        ServiceBuilder::new()
            .map_request(drop_unsafe_request_id)
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            )),
    )
    // Outermost: text answers go out with brotli or gzip when the client accepts it
    // (the web client's files shrink to about a quarter). The default predicate leaves
    // out images (avatars are JPEG already), event streams, small bodies and
    // WebSocket upgrades (no body).
    .layer(CompressionLayer::new())
}

/// A client's `x-request-id` is kept only if it is 1–64 characters of letters,
/// digits and `-_.:` (a UUID, a proxy's trace id); anything else is removed, so the
/// request gets a fresh id instead of echoing the client's text into logs and bodies.
fn drop_unsafe_request_id<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let safe = request.headers().get(&REQUEST_ID).map(|v| is_safe_request_id(v.as_bytes()));
    if safe == Some(false) {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The `method` label of the HTTP metrics: one of a fixed set, so a client that
/// invents methods cannot grow the number of series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Cross-origin access for the configured origins; none configured means none given.
fn cors(state: &AppState) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> =
        state.settings.extra_origins().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([REQUEST_ID, header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

/// The request span, metrics, the access log line, and error bodies with the
/// request id. The span names the matched route, never the raw URI: query strings
/// may carry tokens.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(request.method());
    let request_id =
        request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let span = tracing::info_span!(
        "request",
        method,
        route = %route,
        request_id = %request_id,
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let response = render_error(response, &request_id, &span);
    let status = response.status();
    let elapsed = started.elapsed();
    state.metrics.http_requests.with_label_values(&[method, &route, status.as_str()]).inc();
    state.metrics.http_duration.with_label_values(&[method, &route]).observe(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(status = status.as_u16(), latency_ms = elapsed.as_secs_f64() * 1000.0, "request")
    });
    response
}

/// Gives every error response the app's body with the request id; logs internal
/// causes, which never reach the client.
fn render_error(response: Response, request_id: &str, span: &tracing::Span) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        span.in_scope(|| tracing::error!(cause = %cause, "internal error"));
    }
    let body = match response.extensions().get::<ErrorBody>() {
        Some(body) => ErrorBody { request_id: Some(request_id.to_owned()), ..body.clone() },
        // A handler's own JSON answer (the readiness probe's) stands as it is.
        None if is_json(&response) => return response,
        None => generic_body(status, request_id),
    };
    let (mut parts, _) = response.into_parts();
    let json = serde_json::to_vec(&body).expect("error bodies serialise");
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// A body for errors produced outside our handlers (unknown method, body limits).
fn generic_body(status: StatusCode, request_id: &str) -> ErrorBody {
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "not found"),
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::MethodNotAllowed, "method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "request body is too large"),
        StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "too many requests"),
        s if s.is_server_error() => (ErrorCode::InternalError, "internal server error"),
        _ => (ErrorCode::BadRequest, "bad request"),
    };
    ErrorBody { detail: detail.into(), code, request_id: Some(request_id.to_owned()), errors: Vec::new() }
}

/// The answer for paths no route matches.
pub async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

/// The API routes while the database is unreachable (the store's outage watchdog):
/// 503 `database_unavailable` with `Retry-After` at once, and a call that was already
/// waiting for the database when the watchdog found it gone is answered so too, rather
/// than after the pool's wait. Like a client that hangs up, this drops the handler
/// where it waited; an open transaction rolls back.
pub async fn database_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.store.reachable() {
        return ApiError::database_unavailable().into_response();
    }
    tokio::select! {
        biased;
        response = next.run(request) => response,
        _ = state.store.unreachable() => ApiError::database_unavailable().into_response(),
    }
}
