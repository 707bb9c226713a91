//! The one error type of the HTTP edge. Every failure a handler can meet becomes an
//! [`ApiError`]: a machine [`ErrorCode`] (which fixes the status), a human `detail`,
//! and for validation the list of bad fields. Internal causes are kept for the log
//! (written with the request id by the error middleware) and never sent to clients.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Machine-readable error codes, stable for clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// One or more fields are invalid; see `errors`.
    ValidationError,
    /// The body is not the JSON this endpoint expects.
    BadRequest,
    /// Unknown user or wrong password (one message for both).
    InvalidCredentials,
    /// Missing, malformed, expired or revoked access token.
    Unauthorized,
    /// The refresh token is unknown, expired or revoked.
    InvalidRefreshToken,
    /// A rotated-away refresh token was presented again; its family is revoked.
    RefreshTokenReused,
    /// Authenticated but without the right.
    Forbidden,
    /// The account is banned.
    Banned,
    NotFound,
    UsernameTaken,
    EmailTaken,
    /// Search needs a complete profile; `detail` names what is missing.
    IncompleteProfile,
    /// A search is already running.
    AlreadySearching,
    /// There is no search to cancel.
    NotSearching,
    /// The room has ended; it takes no more writes.
    RoomEnded,
    /// No like round is open to answer.
    NoOpenRound,
    /// This like round is already answered.
    AlreadyAnswered,
    /// This room was already reported by the caller.
    AlreadyReported,
    /// The room ended longer ago than the report window.
    ReportWindowClosed,
    /// The image is not a JPEG, PNG, WebP or GIF that decodes.
    InvalidImage,
    PayloadTooLarge,
    MethodNotAllowed,
    RateLimited,
    /// The server cannot do this right now (shutting down, or too busy with password
    /// checks or images); retry after `Retry-After`.
    Unavailable,
    /// The database does not answer (an outage); retry after `Retry-After`.
    DatabaseUnavailable,
    InternalError,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            ValidationError | BadRequest | InvalidImage | IncompleteProfile => StatusCode::BAD_REQUEST,
            InvalidCredentials | Unauthorized | InvalidRefreshToken | RefreshTokenReused => {
                StatusCode::UNAUTHORIZED
            }
            Forbidden | Banned => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            UsernameTaken | EmailTaken | AlreadySearching | NotSearching | RoomEnded | NoOpenRound
            | AlreadyAnswered | AlreadyReported | ReportWindowClosed => StatusCode::CONFLICT,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Unavailable | DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

pub use crate::validation::FieldError;

/// The body of every error response.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable explanation.
    pub detail: Cow<'static, str>,
    pub code: ErrorCode,
    /// The request's id, also in the `x-request-id` header and the server log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The invalid fields, for `validation_error`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    detail: Cow<'static, str>,
    errors: Vec<FieldError>,
    retry_after_secs: Option<u64>,
    internal: Option<String>,
}

/// An internal cause riding on a 500 response until the error middleware logs it.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        ApiError { code, detail: detail.into(), errors: Vec::new(), retry_after_secs: None, internal: None }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("invalid {}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        ApiError { errors, ..ApiError::new(ErrorCode::ValidationError, detail) }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn not_found(what: &'static str) -> Self {
        ApiError::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn unauthorized(detail: &'static str) -> Self {
        ApiError::new(ErrorCode::Unauthorized, detail)
    }

    /// 403 `banned`, saying until when (or that the ban is permanent).
    pub fn banned(until: crate::clock::Timestamp) -> Self {
        if crate::moderation::is_permanent(until) {
            return ApiError::new(ErrorCode::Banned, "account banned permanently");
        }
        ApiError::new(ErrorCode::Banned, format!("account banned until {}", until.to_datetime().to_rfc3339()))
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        ApiError {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..ApiError::new(ErrorCode::RateLimited, "too many requests, slow down")
        }
    }

    /// 503 `database_unavailable`: the database does not answer; the client retries.
    pub fn database_unavailable() -> Self {
        ApiError {
            retry_after_secs: Some(DATABASE_RETRY_AFTER_SECS),
            ..ApiError::new(ErrorCode::DatabaseUnavailable, "the database is unavailable; retry shortly")
        }
    }

    /// A failure that is ours, not the client's: logged with its cause, shown as 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError {
            internal: Some(cause.to_string()),
            ..ApiError::new(ErrorCode::InternalError, "internal server error")
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn body(&self, request_id: Option<String>) -> ErrorBody {
        ErrorBody { detail: self.detail.clone(), code: self.code, request_id, errors: self.errors.clone() }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.detail)
    }
}

/// The `Retry-After` of `database_unavailable`, in seconds.
const DATABASE_RETRY_AFTER_SECS: u64 = 2;

/// A failure to reach the database (no connection within the pool's wait, a broken or
/// refused connection, the pool closed at shutdown) is 503 `database_unavailable`;
/// any other database error is ours, a 500.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => {
                ApiError { internal: Some(format!("database: {e}")), ..ApiError::database_unavailable() }
            }
            e => ApiError::internal(format_args!("database: {e}")),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::{Constraint, StoreError};
        match e {
            StoreError::Conflict(Constraint::Email) => {
                ApiError::new(ErrorCode::EmailTaken, "email is already taken")
            }
            StoreError::Conflict(Constraint::Username) => {
                ApiError::new(ErrorCode::UsernameTaken, "username is already taken")
            }
            // Every other key is handled where it can be met; one reaching here is a bug.
            StoreError::Conflict(other) => {
                ApiError::internal(format_args!("unexpected conflict on {other:?}"))
            }
            StoreError::Db(e) => e.into(),
        }
    }
}

/// The one mapping of room answers to HTTP. A non-participant is told the room does
/// not exist (a room's existence is not revealed to strangers).
impl From<crate::room::RoomError> for ApiError {
    fn from(e: crate::room::RoomError) -> Self {
        use crate::room::RoomError;
        let detail = e.to_string();
        match e {
            RoomError::Ended => ApiError::new(ErrorCode::RoomEnded, detail),
            RoomError::NotParticipant => ApiError::not_found("room"),
            RoomError::NoOpenRound => ApiError::new(ErrorCode::NoOpenRound, detail),
            RoomError::AlreadyAnswered => ApiError::new(ErrorCode::AlreadyAnswered, detail),
            RoomError::InvalidContent { max } => {
                ApiError::field("content", format!("must be 1 to {max} characters after trimming"))
            }
            // Calls happen on the chat socket; no route reaches these today.
            RoomError::ClientIdReused
            | RoomError::CallBusy
            | RoomError::NoCall
            | RoomError::NotRinging
            | RoomError::NotCallee => ApiError::new(ErrorCode::BadRequest, detail),
            RoomError::InvalidClientId => ApiError::field("client_id", detail),
            RoomError::Unavailable => {
                ApiError { retry_after_secs: Some(1), ..ApiError::new(ErrorCode::Unavailable, detail) }
            }
            RoomError::WriteFailed(cause) => ApiError::internal(format_args!("storing a message: {cause}")),
            RoomError::Store(e) => e.into(),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match e {
            AuthError::Invalid => ApiError::unauthorized("missing, invalid or expired access token"),
            AuthError::Revoked => ApiError::unauthorized("access token has been revoked"),
            AuthError::Banned(until) => ApiError::banned(until),
            AuthError::Store(e) => e.into(),
        }
    }
}

impl From<crate::matching::SearchError> for ApiError {
    fn from(e: crate::matching::SearchError) -> Self {
        use crate::matching::SearchError;
        let detail = e.to_string();
        match e {
            SearchError::Banned(until) => ApiError::banned(until),
            SearchError::AlreadySearching => ApiError::new(ErrorCode::AlreadySearching, detail),
            SearchError::IncompleteProfile(_) => ApiError::new(ErrorCode::IncompleteProfile, detail),
            SearchError::UnknownUser => ApiError::not_found("user"),
            SearchError::CorruptProfile => ApiError::internal(detail),
            SearchError::Unavailable => {
                ApiError { retry_after_secs: Some(1), ..ApiError::new(ErrorCode::Unavailable, detail) }
            }
            SearchError::Store(e) => e.into(),
        }
    }
}

impl From<crate::accounts::AccountError> for ApiError {
    fn from(e: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError;
        let detail = e.to_string();
        match e {
            AccountError::Invalid(fields) => fields.into(),
            AccountError::InvalidCredentials => ApiError::new(ErrorCode::InvalidCredentials, detail),
            AccountError::TooManyFailures(wait) => ApiError {
                retry_after_secs: Some(wait.as_secs_f64().ceil() as u64),
                ..ApiError::new(ErrorCode::RateLimited, detail)
            },
            AccountError::InvalidRefreshToken => ApiError::new(ErrorCode::InvalidRefreshToken, detail),
            AccountError::RefreshTokenReused => ApiError::new(ErrorCode::RefreshTokenReused, detail),
            AccountError::Banned(until) => ApiError::banned(until),
            AccountError::Search(e) => e.into(),
            AccountError::Room(e) => e.into(),
            AccountError::Store(e) => e.into(),
            AccountError::Hashing(e) => e.into(),
        }
    }
}

impl From<crate::accounts::ProfileError> for ApiError {
    fn from(e: crate::accounts::ProfileError) -> Self {
        use crate::accounts::ProfileError;
        match e {
            ProfileError::Invalid(fields) => fields.into(),
            ProfileError::InvalidImage(e) => ApiError::new(ErrorCode::InvalidImage, e.to_string()),
            ProfileError::NotFound(what) => ApiError::not_found(what),
            ProfileError::Search(e) => e.into(),
            ProfileError::Store(e) => e.into(),
            ProfileError::Processing(e) => e.into(),
        }
    }
}

impl From<crate::moderation::BanError> for ApiError {
    fn from(e: crate::moderation::BanError) -> Self {
        use crate::moderation::BanError;
        match e {
            BanError::UnknownUser => ApiError::not_found("user"),
            BanError::Search(e) => e.into(),
            BanError::Room(e) => e.into(),
            BanError::Store(e) => e.into(),
        }
    }
}

/// A report about a room the caller is not in is told "room not found", as rooms are.
impl From<crate::moderation::ReportError> for ApiError {
    fn from(e: crate::moderation::ReportError) -> Self {
        use crate::moderation::ReportError;
        let detail = e.to_string();
        match e {
            ReportError::NotParticipant => ApiError::not_found("room"),
            ReportError::Invalid(fields) => fields.into(),
            ReportError::WindowClosed => ApiError::new(ErrorCode::ReportWindowClosed, detail),
            ReportError::AlreadyReported => ApiError::new(ErrorCode::AlreadyReported, detail),
            // The report is stored; the ban it set off failed: ours, not the caller's.
            ReportError::Autoban(e) => ApiError::internal(format_args!("automatic ban after a report: {e}")),
            ReportError::Store(e) => e.into(),
        }
    }
}

impl From<crate::validation::FieldErrors> for ApiError {
    fn from(e: crate::validation::FieldErrors) -> Self {
        ApiError::validation(e.0)
    }
}

impl From<crate::cpu::CpuError> for ApiError {
    fn from(e: crate::cpu::CpuError) -> Self {
        use crate::cpu::CpuError;
        match e {
            CpuError::Busy(_) => {
                ApiError { retry_after_secs: Some(2), ..ApiError::new(ErrorCode::Unavailable, e.to_string()) }
            }
            CpuError::Failed(e) => ApiError::internal(format_args!("blocking task failed: {e}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The body is written without the request id; the error middleware, which
        // knows the id, rewrites it from the `ErrorBody` extension.
        let body = self.body(None);
        let mut response = (self.code.status(), axum::Json(body.clone())).into_response();
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(body);
        if let Some(cause) = self.internal {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_status() {
        assert_eq!(ErrorCode::ValidationError.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::InvalidCredentials.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ErrorCode::Banned.status(), StatusCode::FORBIDDEN);
        assert_eq!(ErrorCode::RateLimited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(ErrorCode::DatabaseUnavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn an_unreachable_database_is_503_with_retry_after() {
        let response = ApiError::from(sqlx::Error::PoolTimedOut).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let body = response.extensions().get::<ErrorBody>().expect("the body rides along");
        assert_eq!(body.code, ErrorCode::DatabaseUnavailable);
        // Other database errors stay ours.
        assert_eq!(ApiError::from(sqlx::Error::RowNotFound).code(), ErrorCode::InternalError);
    }

    #[test]
    fn internal_causes_stay_out_of_the_body() {
        let err = ApiError::internal("connection refused to 10.0.0.5");
        let body = serde_json::to_string(&err.body(Some("abc".into()))).unwrap();
        assert!(!body.contains("10.0.0.5"));
        assert!(body.contains("\"request_id\":\"abc\""));
    }

    #[test]
    fn validation_lists_each_field() {
        let err = ApiError::validation(vec![
            FieldError::new("needs", "pick at least one"),
            FieldError::new("interests", "unknown interest `x`"),
        ]);
        let body = serde_json::to_value(err.body(None)).unwrap();
        assert_eq!(body["code"], "validation_error");
        assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    }
}
