//! Accounts: users, their sign-up input, and API-token metadata. Pure rules; hashing and
//! secrets live in `crate::accounts`.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::FieldError;

/// The built-in local user of `QUIZMASTER_AUTH=off` and of the in-process CLI. It has no
/// password, so nobody can log in as it; the migration creates it and owns earlier data with it.
pub const LOCAL_USER_ID: Uuid = Uuid::from_u128(1);

/// Shortest password accepted at sign-up.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password accepted: Argon2 takes any length, but a megabyte password is a way to
/// make the server hash a megabyte.
pub const PASSWORD_MAX_CHARS: usize = 1024;
const EMAIL_MAX_CHARS: usize = 254;
const TOKEN_NAME_MAX_CHARS: usize = 100;

/// A user as the API shows it (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub is_admin: bool,
    #[serde(with = "super::time::ms_as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl User {
    /// The built-in local user, as `QUIZMASTER_AUTH=off` presents it.
    pub fn local() -> Self {
        Self {
            id: LOCAL_USER_ID,
            email: "local@localhost".into(),
            is_admin: true,
            created_at: 0,
        }
    }
}

/// An API token as listed: everything but the secret, which is shown once at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiTokenInfo {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "super::time::ms_as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "super::time::opt_ms_as_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<i64>,
}

/// Sign-up and log-in input: an email (trimmed, lower-cased) and a password (as typed).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"***")
            .finish()
    }
}

impl Credentials {
    /// Sign-up rules: a plausible email and a password of 10 to 1,024 characters.
    pub fn parse_signup(body: &Value) -> Result<Self, Vec<FieldError>> {
        let (email, password) = fields(body)?;
        let mut errors = Vec::new();
        let email = match normalize_email(&email) {
            Ok(email) => email,
            Err(message) => {
                errors.push(FieldError::new("email", message));
                String::new()
            }
        };
        let chars = password.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            errors.push(FieldError::new(
                "password",
                format!("password must be at least {PASSWORD_MIN_CHARS} characters"),
            ));
        } else if chars > PASSWORD_MAX_CHARS {
            errors.push(FieldError::new(
                "password",
                format!("password must be at most {PASSWORD_MAX_CHARS} characters"),
            ));
        }
        if errors.is_empty() {
            Ok(Self { email, password })
        } else {
            Err(errors)
        }
    }

    /// Log-in input: both fields present as strings. Nothing else is checked, so that a wrong
    /// email and a wrong password look the same (`401 invalid_credentials`).
    pub fn parse_login(body: &Value) -> Result<Self, Vec<FieldError>> {
        let (email, password) = fields(body)?;
        Ok(Self {
            email: email.trim().to_lowercase(),
            password,
        })
    }
}

fn fields(body: &Value) -> Result<(String, String), Vec<FieldError>> {
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new(
            "body",
            "the body must be a JSON object with email and password",
        )]);
    };
    let mut errors = Vec::new();
    let mut string = |name: &str| match object.get(name) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            errors.push(FieldError::new(name, format!("{name} is required")));
            String::new()
        }
        Some(_) => {
            errors.push(FieldError::new(name, format!("{name} must be a string")));
            String::new()
        }
    };
    let email = string("email");
    let password = string("password");
    if errors.is_empty() {
        Ok((email, password))
    } else {
        Err(errors)
    }
}

/// Trims and lower-cases an email and checks that it looks like one: `local@domain.tld`, no
/// spaces, at most 254 characters. (Whether it receives mail is not this server's business.)
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let bad = || "email must look like name@example.org".to_string();
    if email.is_empty() {
        return Err("email is required".into());
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err(format!(
            "email must be at most {EMAIL_MAX_CHARS} characters"
        ));
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    let plausible = !local.is_empty()
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && email.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if plausible {
        Ok(email)
    } else {
        Err(bad())
    }
}

/// The name of a new API token: 1 to 100 characters, trimmed.
pub fn parse_token_name(body: &Value) -> Result<String, Vec<FieldError>> {
    let name = body.as_object().and_then(|o| o.get("name"));
    let invalid = |message: &str| Err(vec![FieldError::new("name", message)]);
    match name {
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.is_empty() {
                invalid("name must not be empty")
            } else if trimmed.chars().count() > TOKEN_NAME_MAX_CHARS {
                invalid("name must be at most 100 characters")
            } else {
                Ok(trimmed.to_string())
            }
        }
        None | Some(Value::Null) => invalid("name is required"),
        Some(_) => invalid("name must be a string"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.ORG ").as_deref(),
            Ok("ada@example.org")
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "a b@example.org",
            "ada@.org",
            "ada@example..org",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn signup_needs_a_long_enough_password() {
        let short = Credentials::parse_signup(&json!({"email": "a@b.co", "password": "123456789"}));
        assert_eq!(short.unwrap_err()[0].field, "password");
        let ok = Credentials::parse_signup(&json!({"email": "A@b.co", "password": "1234567890"}));
        assert_eq!(ok.map(|c| c.email).as_deref(), Ok("a@b.co"));
        let both = Credentials::parse_signup(&json!({"email": 3})).unwrap_err();
        assert_eq!(both.len(), 2);
    }

    #[test]
    fn credentials_never_print_the_password() {
        let c = Credentials::parse_login(&json!({"email": "a@b.co", "password": "hunter2hunter2"}))
            .expect("parses");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn token_names_are_trimmed_and_bounded() {
        assert_eq!(
            parse_token_name(&json!({"name": " laptop "})).as_deref(),
            Ok("laptop")
        );
        assert!(parse_token_name(&json!({"name": "  "})).is_err());
        assert!(parse_token_name(&json!({"name": "x".repeat(101)})).is_err());
        assert!(parse_token_name(&json!({})).is_err());
    }
}
