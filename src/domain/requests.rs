//! The request bodies of the API, typed. Each one deserializes from JSON (and derives its
//! OpenAPI schema from the same struct, so the document cannot drift from the parser), and
//! `into_domain` checks it by the rules of its domain type. The web forms and the command line
//! build the same structs from their text, so one set of rules and messages serves all three.
//!
//! Every field is a [`Field`], read leniently: a value of the wrong JSON type is remembered and
//! reported as a `422` detail for that field (like every other bad value), never as a `400`.
//! An absent field is [`Field::Absent`] (`#[serde(default)]` on each field; the schema marks
//! the required ones). Unknown fields are ignored.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use utoipa::ToSchema;

use super::account::{Credentials, TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS};
use super::blueprint::{TARGET_DEFAULT, TARGET_MAX, TARGET_MIN};
use super::topic::{self, TopicInput, TopicPatch, DESCRIPTION_MAX_CHARS, SOURCE_TEXT_MAX_CHARS};
use super::FieldError;

/// One field of a request body as it arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    /// Not in the body.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A value of the expected type.
    Given(T),
    /// A value of another JSON type (e.g. `"title": 5`).
    WrongType,
}

impl<T> From<Option<T>> for Field<T> {
    /// `None` is an absent field (a blank form box, an option not given).
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Absent, Self::Given)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::Null => Self::Null,
            value => T::deserialize(value).map_or(Self::WrongType, Self::Given),
        })
    }
}

/// A request body: how it is read from JSON and turned into its domain type.
pub trait RequestBody: DeserializeOwned {
    /// What the request becomes once valid.
    type Domain;

    /// The `body` detail when the body is not a JSON object.
    const NOT_AN_OBJECT: &'static str = "the body must be a JSON object";

    /// Checks every field; every problem is reported, not just the first.
    fn into_domain(self) -> Result<Self::Domain, Vec<FieldError>>;

    /// Reads a JSON body. Only a body that is not an object fails here: each field is read
    /// leniently, its problems left to [`RequestBody::into_domain`].
    fn from_json(body: &Value) -> Result<Self, Vec<FieldError>> {
        let not_an_object = || vec![FieldError::new("body", Self::NOT_AN_OBJECT)];
        // A struct would also deserialize from an array, by position: only objects are bodies.
        if !body.is_object() {
            return Err(not_an_object());
        }
        Self::deserialize(body).map_err(|_| not_an_object())
    }

    /// [`RequestBody::from_json`], then [`RequestBody::into_domain`].
    fn validate_json(body: &Value) -> Result<Self::Domain, Vec<FieldError>> {
        Self::from_json(body)?.into_domain()
    }
}

/// Collects the problems of several fields.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|error| self.0.push(error)).ok()
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(self.0),
        }
    }
}

fn must_be_a_string(field: &str) -> FieldError {
    FieldError::new(field, format!("{field} must be a string"))
}

/// An optional multi-line text field. `None`: absent. `Some(None)`: null (clears it).
fn optional_text(
    name: &str,
    field: Field<String>,
    max_chars: usize,
) -> Result<Option<Option<String>>, FieldError> {
    match field {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(None)),
        Field::Given(text) => {
            topic::optional_text_value(name, &text, max_chars).map(|t| Some(Some(t)))
        }
        Field::WrongType => Err(must_be_a_string(name)),
    }
}

/// `POST /api/topics`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CreateTopicRequest {
    /// 1–200 characters on one line, stored trimmed.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub description: Field<String>,
    /// Lecture notes or a chapter the objectives are derived from.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200000)]
    pub source_text: Field<String>,
}

impl CreateTopicRequest {
    /// A new topic given as text (the web form, the command line); `None` leaves a field out.
    pub fn from_text(title: &str, description: Option<&str>, source_text: Option<&str>) -> Self {
        Self {
            title: Field::Given(title.to_string()),
            description: description.map(str::to_string).into(),
            source_text: source_text.map(str::to_string).into(),
        }
    }
}

impl RequestBody for CreateTopicRequest {
    type Domain = TopicInput;

    fn into_domain(self) -> Result<TopicInput, Vec<FieldError>> {
        let mut problems = Problems::default();
        let title = problems.check(match self.title {
            Field::Absent | Field::Null => Err(FieldError::new("title", "title is required")),
            Field::Given(title) => topic::title_text(&title),
            Field::WrongType => Err(must_be_a_string("title")),
        });
        let description = problems.check(optional_text(
            "description",
            self.description,
            DESCRIPTION_MAX_CHARS,
        ));
        let source_text = problems.check(optional_text(
            "source_text",
            self.source_text,
            SOURCE_TEXT_MAX_CHARS,
        ));
        problems.finish(title.map(|title| TopicInput {
            title,
            description: description.flatten().flatten(),
            source_text: source_text.flatten().flatten(),
        }))
    }
}

/// `PATCH /api/topics/{topic_id}`: the fields to change; `null` clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct UpdateTopicRequest {
    /// 1–200 characters on one line, stored trimmed; it cannot be cleared.
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200000)]
    pub source_text: Field<String>,
}

impl RequestBody for UpdateTopicRequest {
    type Domain = TopicPatch;

    fn into_domain(self) -> Result<TopicPatch, Vec<FieldError>> {
        let mut problems = Problems::default();
        let title = problems.check(match self.title {
            Field::Absent => Ok(None),
            Field::Null => Err(FieldError::new("title", "title cannot be null")),
            Field::Given(title) => topic::title_text(&title).map(Some),
            Field::WrongType => Err(must_be_a_string("title")),
        });
        let description = problems.check(optional_text(
            "description",
            self.description,
            DESCRIPTION_MAX_CHARS,
        ));
        let source_text = problems.check(optional_text(
            "source_text",
            self.source_text,
            SOURCE_TEXT_MAX_CHARS,
        ));
        problems.finish(Some(TopicPatch {
            title: title.flatten(),
            description: description.flatten(),
            source_text: source_text.flatten(),
        }))
    }
}

/// `POST .../blueprints/generate` (the body is optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct GenerateRequest {
    /// How many terminal objectives to aim for (default 10).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 30)]
    pub target_terminal_objectives: Field<i64>,
}

impl RequestBody for GenerateRequest {
    /// The target number of terminal objectives.
    type Domain = i64;

    fn into_domain(self) -> Result<i64, Vec<FieldError>> {
        match self.target_terminal_objectives {
            Field::Absent | Field::Null => Ok(TARGET_DEFAULT),
            Field::Given(n) if (TARGET_MIN..=TARGET_MAX).contains(&n) => Ok(n),
            Field::Given(_) | Field::WrongType => Err(vec![FieldError::new(
                "target_terminal_objectives",
                format!(
                    "target_terminal_objectives must be an integer from {TARGET_MIN} to {TARGET_MAX}"
                ),
            )]),
        }
    }
}

const CREDENTIALS_NOT_AN_OBJECT: &str = "the body must be a JSON object with email and password";

/// Both credential fields as strings, or a detail for each that is not one.
fn credential_strings(
    email: Field<String>,
    password: Field<String>,
) -> Result<(String, String), Vec<FieldError>> {
    let mut problems = Problems::default();
    let mut string = |name: &str, field: Field<String>| {
        problems.check(match field {
            Field::Given(text) => Ok(text),
            Field::Absent | Field::Null => {
                Err(FieldError::new(name, format!("{name} is required")))
            }
            Field::WrongType => Err(must_be_a_string(name)),
        })
    };
    let email = string("email", email);
    let password = string("password", password);
    problems.finish(email.zip(password))
}

/// `POST /api/auth/signup`.
// No `Debug`: it holds a password.
#[derive(Clone, Default, Deserialize, ToSchema)]
pub struct SignupRequest {
    /// Trimmed and compared without case.
    #[serde(default)]
    #[schema(value_type = String, required = true, max_length = 254)]
    pub email: Field<String>,
    /// 10 to 1,024 characters, at least 4 different ones.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 10, max_length = 1024)]
    pub password: Field<String>,
}

impl RequestBody for SignupRequest {
    type Domain = Credentials;
    const NOT_AN_OBJECT: &'static str = CREDENTIALS_NOT_AN_OBJECT;

    fn into_domain(self) -> Result<Credentials, Vec<FieldError>> {
        let (email, password) = credential_strings(self.email, self.password)?;
        Credentials::for_signup(&email, password)
    }
}

/// `POST /api/auth/login`.
// No `Debug`: it holds a password.
#[derive(Clone, Default, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Trimmed and compared without case.
    #[serde(default)]
    #[schema(value_type = String, required = true, max_length = 254)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true, max_length = 1024)]
    pub password: Field<String>,
}

impl RequestBody for LoginRequest {
    type Domain = Credentials;
    const NOT_AN_OBJECT: &'static str = CREDENTIALS_NOT_AN_OBJECT;

    fn into_domain(self) -> Result<Credentials, Vec<FieldError>> {
        let (email, password) = credential_strings(self.email, self.password)?;
        Credentials::for_login(&email, password)
    }
}

/// A valid new API token: its name and how many days it lasts (`None`: for ever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTokenInput {
    pub name: String,
    pub expires_in_days: Option<i64>,
}

/// `POST /api/auth/tokens`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CreateTokenRequest {
    /// What the token is for, e.g. "grading script".
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100)]
    pub name: Field<String>,
    /// Days until the token stops working: 1 to 3650, default 90; `null` for a token that
    /// never expires.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650, default = 90)]
    pub expires_in_days: Field<i64>,
}

impl RequestBody for CreateTokenRequest {
    type Domain = NewTokenInput;

    fn into_domain(self) -> Result<NewTokenInput, Vec<FieldError>> {
        let mut problems = Problems::default();
        let name = problems.check(match self.name {
            Field::Given(name) => super::account::token_name(&name),
            Field::Absent | Field::Null => Err(FieldError::new("name", "name is required")),
            Field::WrongType => Err(must_be_a_string("name")),
        });
        let expires_in_days = problems.check(match self.expires_in_days {
            Field::Absent => Ok(Some(TOKEN_DEFAULT_DAYS)),
            Field::Null => Ok(None),
            Field::Given(days) if (1..=TOKEN_MAX_DAYS).contains(&days) => Ok(Some(days)),
            Field::Given(_) | Field::WrongType => Err(FieldError::new(
                "expires_in_days",
                format!("expires_in_days must be an integer from 1 to {TOKEN_MAX_DAYS}, or null for a token that never expires"),
            )),
        });
        problems.finish(
            name.zip(expires_in_days)
                .map(|(name, expires_in_days)| NewTokenInput {
                    name,
                    expires_in_days,
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_field_remembers_absent_null_and_a_wrong_type() {
        let request =
            CreateTopicRequest::from_json(&json!({"title": 5, "description": null, "x": 1}))
                .expect("an object always reads");
        assert_eq!(request.title, Field::WrongType);
        assert_eq!(request.description, Field::Null);
        assert_eq!(request.source_text, Field::Absent);
        let request =
            GenerateRequest::from_json(&json!({"target_terminal_objectives": 7})).expect("reads");
        assert_eq!(request.target_terminal_objectives, Field::Given(7));
    }

    #[test]
    fn only_an_object_is_a_body() {
        for body in [json!([1]), json!("x"), json!(3)] {
            let errors = CreateTopicRequest::validate_json(&body).expect_err("refused");
            assert_eq!(fields(&errors), ["body"]);
        }
        let errors = LoginRequest::validate_json(&json!(["a@b.co", "pw"])).expect_err("refused");
        assert_eq!(errors[0].message, CREDENTIALS_NOT_AN_OBJECT);
    }

    #[test]
    fn wrong_types_are_field_details() {
        let errors = CreateTopicRequest::validate_json(
            &json!({"title": 5, "description": [], "source_text": {}}),
        )
        .expect_err("invalid");
        assert_eq!(fields(&errors), ["title", "description", "source_text"]);
        assert_eq!(errors[0].message, "title must be a string");
        for bad in [json!(1.5), json!("7"), json!(0), json!(31), json!(u64::MAX)] {
            let errors =
                GenerateRequest::validate_json(&json!({"target_terminal_objectives": bad}))
                    .expect_err("refused");
            assert_eq!(fields(&errors), ["target_terminal_objectives"], "{bad}");
        }
        let errors = CreateTokenRequest::validate_json(&json!({"name": 1, "expires_in_days": "7"}))
            .expect_err("refused");
        assert_eq!(fields(&errors), ["name", "expires_in_days"]);
    }

    #[test]
    fn text_and_json_follow_the_same_rules() {
        let long = "x".repeat(DESCRIPTION_MAX_CHARS + 1);
        for (title, description, source_text) in [
            ("  Cells ", None, Some("a\tb\r\nc")),
            ("", Some("ok"), None),
            ("T", Some(long.as_str()), Some("y\u{1b}[2J")),
            ("a\nb", None, None),
        ] {
            let body =
                json!({"title": title, "description": description, "source_text": source_text});
            assert_eq!(
                CreateTopicRequest::from_text(title, description, source_text).into_domain(),
                CreateTopicRequest::validate_json(&body),
                "{body}"
            );
        }
    }

    #[test]
    fn defaults_apply_to_absent_fields() {
        assert_eq!(GenerateRequest::default().into_domain(), Ok(TARGET_DEFAULT));
        let token = CreateTokenRequest::validate_json(&json!({"name": " ci "})).expect("valid");
        assert_eq!(
            token,
            NewTokenInput {
                name: "ci".into(),
                expires_in_days: Some(TOKEN_DEFAULT_DAYS)
            }
        );
        let never =
            CreateTokenRequest::validate_json(&json!({"name": "ci", "expires_in_days": null}))
                .expect("valid");
        assert_eq!(never.expires_in_days, None);
    }

    #[test]
    fn credentials_need_both_strings_before_any_rule() {
        let errors = SignupRequest::validate_json(&json!({"email": 3})).expect_err("refused");
        assert_eq!(fields(&errors), ["email", "password"]);
        assert_eq!(errors[0].message, "email must be a string");
        assert_eq!(errors[1].message, "password is required");
        let ok = LoginRequest::validate_json(&json!({"email": " A@b.co", "password": "x"}))
            .expect("log-in checks no rules");
        assert_eq!(ok.email, "a@b.co");
    }
}
