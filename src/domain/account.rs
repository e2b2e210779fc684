//! Accounts: users, their sign-up input, and API-token metadata. Pure rules; hashing and
//! secrets live in `crate::accounts`.

use serde::Serialize;
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
    /// When the token stops working; null: never.
    #[serde(with = "super::time::opt_ms_as_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
}

/// A log-in session as its owner sees it listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: Uuid,
    #[serde(with = "super::time::ms_as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// Accurate to a minute.
    #[serde(with = "super::time::ms_as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: i64,
    #[serde(with = "super::time::ms_as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: i64,
    /// The browser or program that logged in, and from where, as it said when it did.
    pub client: Option<String>,
    /// Whether this is the session of the request that asked.
    pub current: bool,
}

/// Days a new API token lasts unless its creator chooses otherwise.
pub const TOKEN_DEFAULT_DAYS: i64 = 90;
/// The longest expiry one may choose (ten years); `null` asks for none at all.
pub const TOKEN_MAX_DAYS: i64 = 3650;

/// What the sessions list says of a client: its user agent (one line, at most 200
/// characters, without control or invisible formatting characters) and its address.
pub fn describe_client(user_agent: Option<&str>, address: &str) -> String {
    let agent: String = user_agent
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !super::text::is_deceptive_format(*c))
        .take(200)
        .collect();
    let agent = agent.trim();
    if agent.is_empty() {
        format!("unknown client from {address}")
    } else {
        format!("{agent} from {address}")
    }
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
    /// Sign-up rules: a plausible email and a password of 10 to 1,024 characters. (The body's
    /// shape is checked by `requests::SignupRequest`.)
    pub fn for_signup(email: &str, password: String) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let email = match normalize_email(email) {
            Ok(email) => email,
            Err(message) => {
                errors.push(FieldError::new("email", message));
                String::new()
            }
        };
        if let Err(message) = check_new_password(&password) {
            errors.push(FieldError::new("password", message));
        }
        if errors.is_empty() {
            Ok(Self { email, password })
        } else {
            Err(errors)
        }
    }

    /// Log-in input. Nothing but control characters is checked, so that a wrong email and a
    /// wrong password look the same (`401 invalid_credentials`).
    ///
    /// Control characters are refused (`422`) before anything else happens: no account can
    /// have them, and the database must never see them.
    pub fn for_login(email: &str, password: String) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        for (name, value) in [("email", email), ("password", password.as_str())] {
            if value.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    name,
                    format!("{name} must not contain control characters"),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            email: fold_email(email),
            password,
        })
    }
}

/// Password rules at sign-up: 10 to 1,024 characters, no control characters, not only
/// spaces, and at least 4 different characters (so not `aaaaaaaaaa` or `1212121212`).
pub fn check_new_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(format!(
            "password must be at least {PASSWORD_MIN_CHARS} characters"
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(format!(
            "password must be at most {PASSWORD_MAX_CHARS} characters"
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("password must not contain control characters".into());
    }
    if password.trim().is_empty() {
        return Err("password must not be only spaces".into());
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < PASSWORD_MIN_DISTINCT {
        return Err(format!(
            "password must use at least {PASSWORD_MIN_DISTINCT} different characters"
        ));
    }
    Ok(())
}

const PASSWORD_MIN_DISTINCT: usize = 4;

/// The form an email is compared and stored in: trimmed, NFKC-normalised (so a precomposed and
/// a decomposed `é` are one letter, and full-width letters are the ASCII ones) and lower-cased.
pub fn fold_email(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.trim().nfkc().collect::<String>().to_lowercase()
}

/// Folds an email (see [`fold_email`]) and checks that it looks like one: `local@domain.tld`,
/// no spaces, control or invisible formatting characters, at most 254 characters. (Whether it
/// receives mail is not this server's business.)
pub fn normalize_email(raw: &str) -> Result<String, String> {
    if raw.chars().any(char::is_control) {
        return Err("email must not contain control characters".into());
    }
    let email = fold_email(raw);
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
        && email
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !super::text::is_deceptive_format(c));
    if plausible {
        Ok(email)
    } else {
        Err(bad())
    }
}

/// The name of a new API token: 1 to 100 characters on one line, trimmed.
pub fn token_name(raw: &str) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    super::text::check_single_line("name", trimmed)?;
    if trimmed.is_empty() {
        Err(FieldError::new("name", "name must not be empty"))
    } else if trimmed.chars().count() > TOKEN_NAME_MAX_CHARS {
        Err(FieldError::new(
            "name",
            "name must be at most 100 characters",
        ))
    } else {
        Ok(trimmed.to_string())
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
        let short = Credentials::for_signup("a@b.co", "123456789".into());
        assert_eq!(short.unwrap_err()[0].field, "password");
        let ok = Credentials::for_signup("A@b.co", "1234567890".into());
        assert_eq!(ok.map(|c| c.email).as_deref(), Ok("a@b.co"));
        let both = Credentials::for_signup("", "".into()).unwrap_err();
        assert_eq!(both.len(), 2);
    }

    #[test]
    fn emails_are_unicode_normalised() {
        let precomposed = normalize_email("jos\u{e9}@example.org").expect("valid");
        let decomposed = normalize_email("jose\u{301}@example.org").expect("valid");
        assert_eq!(precomposed, decomposed);
        assert_eq!(
            normalize_email("\u{ff41}da@example.org").as_deref(),
            Ok("ada@example.org"),
            "full-width letters fold to ASCII"
        );
        assert!(normalize_email("a\u{200b}da@example.org").is_err());
        assert!(normalize_email("ada\u{0}@example.org").is_err());
        assert_eq!(
            fold_email(" JOSE\u{301}@x.org"),
            precomposed.replace("example", "x")
        );
    }

    #[test]
    fn weak_passwords_are_refused() {
        for weak in [
            " ".repeat(10),
            "a".repeat(10),
            "1212121212".to_string(),
            "abcabcabca".to_string(),
            "correct\u{0}horse battery".to_string(),
        ] {
            assert!(check_new_password(&weak).is_err(), "{weak:?}");
        }
        assert!(check_new_password("correct horse battery").is_ok());
        assert!(check_new_password("1234567890").is_ok());
    }

    #[test]
    fn log_in_refuses_control_characters_before_anything_else() {
        let errors = Credentials::for_login("a\u{0}@b.co", "x\u{0}".into()).expect_err("refused");
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn credentials_never_print_the_password() {
        let c = Credentials::for_login("a@b.co", "hunter2hunter2".into()).expect("parses");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn token_expiry_defaults_to_90_days_and_null_means_never() {
        use crate::domain::requests::{CreateTokenRequest, RequestBody};
        let expiry = |body| CreateTokenRequest::validate_json(&body).map(|t| t.expires_in_days);
        assert_eq!(expiry(json!({"name": "x"})), Ok(Some(90)));
        assert_eq!(
            expiry(json!({"name": "x", "expires_in_days": null})),
            Ok(None)
        );
        assert_eq!(
            expiry(json!({"name": "x", "expires_in_days": 7})),
            Ok(Some(7))
        );
        for bad in [json!(0), json!(-1), json!(3651), json!("7"), json!(1.5)] {
            assert!(
                expiry(json!({"name": "x", "expires_in_days": bad})).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_client_is_described_on_one_clean_line() {
        assert_eq!(
            describe_client(Some("curl/8.0\u{0}\u{202e}"), "203.0.113.5"),
            "curl/8.0 from 203.0.113.5"
        );
        assert_eq!(describe_client(None, "::1"), "unknown client from ::1");
        assert!(describe_client(Some(&"x".repeat(500)), "::1").len() < 220);
    }

    #[test]
    fn token_names_are_trimmed_and_bounded() {
        assert_eq!(token_name(" laptop ").as_deref(), Ok("laptop"));
        assert!(token_name("  ").is_err());
        assert!(token_name(&"x".repeat(101)).is_err());
        assert!(token_name("ci\u{0}").is_err());
        assert!(token_name("ci\u{202e}").is_err());
    }
}
