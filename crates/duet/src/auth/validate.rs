//! Rules for account fields: usernames, passwords and email addresses.

use crate::validation::{FieldError, FieldErrors};

pub const USERNAME_MIN_CHARS: usize = 3;
pub const USERNAME_MAX_CHARS: usize = 32;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// All failing fields at once, so a form can mark each.
pub fn signup(username: &str, password: &str, email: Option<&str>) -> Result<(), FieldErrors> {
    let mut errors = Vec::new();
    let len = username.chars().count();
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&len) {
        errors.push(FieldError::new(
            "username",
            format!("must be {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters long"),
        ));
    } else if !username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        errors.push(FieldError::new("username", "may contain only letters A-Z, digits and _ . -"));
    }
    let len = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&len) {
        errors.push(FieldError::new(
            "password",
            format!("must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters long"),
        ));
    }
    if let Some(email) = email {
        if !plausible_email(email) {
            errors.push(FieldError::new("email", "is not an email address"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(FieldErrors(errors))
    }
}

/// A light check: one `@`, a dotted domain, no spaces. Ownership is not verified.
pub fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(signup("linh_92", "long enough", None).is_ok());
        assert!(signup("a.b-c", "long enough", None).is_ok());
        assert!(signup("ab", "long enough", None).is_err());
        assert!(signup(&"x".repeat(33), "long enough", None).is_err());
        assert!(signup("Ngọc", "long enough", None).is_err());
        assert!(signup("with space", "long enough", None).is_err());
    }

    #[test]
    fn passwords_and_emails() {
        assert!(signup("linh", "short", None).is_err());
        assert!(signup("linh", "long enough", Some("linh@example.com")).is_ok());
        assert!(signup("linh", "long enough", Some("linh@localhost")).is_err());
        assert!(signup("linh", "long enough", Some("li nh@example.com")).is_err());
    }

    #[test]
    fn all_bad_fields_are_listed() {
        let err = signup("x", "short", Some("nope")).unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "password", "email"]);
    }
}
