//! The HTTP edge: one router per area, merged here with the middleware every request
//! passes through, and the OpenAPI document generated from the same route list.
//!
//! Handlers are thin: extract ([`extract::AuthUser`], [`extract::AppJson`]), call one
//! service, shape the reply. Errors are [`error::ApiError`], made from each domain
//! error by one `From` impl in [`error`]. The socket upgrades ([`sockets`], which
//! hand the socket to the real-time layer) and the web client's files ([`web`], the
//! page at `/` and its files under `/app/`) merge in here too.

pub mod admin;
pub mod auth;
pub mod chat;
pub mod docs;
pub mod error;
pub mod extract;
pub mod meta;
pub mod middleware;
pub mod moderation;
pub mod ops;
pub mod ratelimit;
pub mod room;
pub mod rtc;
pub mod sockets;
mod state;
pub mod user;
pub mod web;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use ratelimit::LimitClass;
pub use state::{AppState, Inner};

/// An area's routes, each group carrying its rate-limit class.
pub type Routes = OpenApiRouter<AppState>;

/// Applies a rate-limit class to every route of `routes`, and documents its 429.
pub fn limited(state: &AppState, class: LimitClass, mut routes: Routes) -> Routes {
    docs::rate_limited(routes.get_openapi_mut(), class);
    routes.route_layer(axum::middleware::from_fn_with_state((state.clone(), class), ratelimit::limit))
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let max_body = usize::try_from(state.settings.server.max_body_bytes).unwrap_or(usize::MAX);
    let (api, mut openapi) = OpenApiRouter::with_openapi(docs::base())
        .merge(auth::routes(&state))
        .merge(user::routes(&state))
        .merge(meta::routes(&state))
        .merge(chat::routes(&state))
        .merge(room::routes(&state))
        .merge(rtc::routes(&state))
        .merge(admin::routes(&state))
        .merge(moderation::routes(&state))
        .split_for_parts();
    // API calls fail fast while the database is unreachable; the operations, docs and
    // web routes do not need it (`/ready` says so itself).
    let api = api.route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::database_gate));
    docs::edge_responses(&mut openapi);
    let app = Router::new()
        .merge(api)
        .merge(ops::routes())
        // Upgrades authenticate and read the database: limited per address (the token
        // travels in the query or subprotocol, so there is no per-user key).
        .merge(sockets::routes().route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), LimitClass::Default),
            ratelimit::limit,
        )))
        .merge(docs::routes(openapi))
        .merge(web::routes())
        .fallback(middleware::not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state.clone());
    middleware::wrap(app, &state)
}
