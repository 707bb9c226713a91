//! Invalid input, in words every layer can use: a field's name as the client sent it
//! and what is wrong with it. Validation (`profile::validate`, `auth::validate`,
//! reports) returns [`FieldErrors`]; the HTTP edge turns them into a 400
//! `validation_error` that lists each field.

use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name as sent, e.g. `interests`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Every invalid field of one request, so a form can mark each at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// One invalid field.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldErrors(vec![FieldError::new(field, message)])
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "invalid {}: {}", one.field, one.message),
            many => write!(f, "{} fields are invalid", many.len()),
        }
    }
}

impl std::error::Error for FieldErrors {}
