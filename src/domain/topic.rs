//! Topics and the rules for their fields.

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::time::ms_as_rfc3339;
use super::FieldError;

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 5_000;
pub const SOURCE_TEXT_MAX_CHARS: usize = 200_000;

/// A stored topic, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Topic {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub source_text: Option<String>,
    #[serde(with = "ms_as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "ms_as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

/// A validated new topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInput {
    pub title: String,
    pub description: Option<String>,
    pub source_text: Option<String>,
}

/// A validated partial update. `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub source_text: Option<Option<String>>,
}

impl TopicPatch {
    pub fn apply(&self, topic: &mut Topic) {
        if let Some(title) = &self.title {
            topic.title = title.clone();
        }
        if let Some(description) = &self.description {
            topic.description = description.clone();
        }
        if let Some(source_text) = &self.source_text {
            topic.source_text = source_text.clone();
        }
    }
}

impl TopicInput {
    /// Validates a create request body. Every problem is reported, not just the first.
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let obj = as_object(body)?;
        let mut errors = Vec::new();
        let title = match obj.get("title") {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("title", "title is required"));
                None
            }
            Some(v) => parse_title(v).map_err(|e| errors.push(e)).ok(),
        };
        let description = optional_text(obj, "description", DESCRIPTION_MAX_CHARS, &mut errors);
        let source_text = optional_text(obj, "source_text", SOURCE_TEXT_MAX_CHARS, &mut errors);
        match (title, errors.is_empty()) {
            (Some(title), true) => Ok(Self {
                title,
                description: description.flatten(),
                source_text: source_text.flatten(),
            }),
            _ => Err(errors),
        }
    }
}

impl TopicInput {
    /// Validates a new topic given as text (the web form, the command line): the same rules as
    /// [`TopicInput::parse`], without building a JSON body first. Every problem is reported.
    pub fn from_text(
        title: &str,
        description: Option<&str>,
        source_text: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = title_text(title).map_err(|e| errors.push(e)).ok();
        let mut optional = |field: &str, text: Option<&str>, max_chars: usize| {
            text.and_then(|text| {
                optional_text_value(field, text, max_chars)
                    .map_err(|e| errors.push(e))
                    .ok()
            })
        };
        let description = optional("description", description, DESCRIPTION_MAX_CHARS);
        let source_text = optional("source_text", source_text, SOURCE_TEXT_MAX_CHARS);
        match (title, errors.is_empty()) {
            (Some(title), true) => Ok(Self {
                title,
                description,
                source_text,
            }),
            _ => Err(errors),
        }
    }
}

impl TopicPatch {
    /// Validates a PATCH body: the same rules as create, every field optional.
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let obj = as_object(body)?;
        let mut errors = Vec::new();
        let title = match obj.get("title") {
            None => None,
            Some(Value::Null) => {
                errors.push(FieldError::new("title", "title cannot be null"));
                None
            }
            Some(v) => parse_title(v).map_err(|e| errors.push(e)).ok(),
        };
        let description = optional_text(obj, "description", DESCRIPTION_MAX_CHARS, &mut errors);
        let source_text = optional_text(obj, "source_text", SOURCE_TEXT_MAX_CHARS, &mut errors);
        if errors.is_empty() {
            Ok(Self {
                title,
                description,
                source_text,
            })
        } else {
            Err(errors)
        }
    }
}

fn as_object(body: &Value) -> Result<&Map<String, Value>, Vec<FieldError>> {
    body.as_object()
        .ok_or_else(|| vec![FieldError::new("body", "the body must be a JSON object")])
}

fn parse_title(value: &Value) -> Result<String, FieldError> {
    let Some(raw) = value.as_str() else {
        return Err(FieldError::new("title", "title must be a string"));
    };
    title_text(raw)
}

fn title_text(raw: &str) -> Result<String, FieldError> {
    let title = raw.trim();
    let chars = title.chars().count();
    if chars == 0 {
        return Err(FieldError::new("title", "title must not be empty"));
    }
    if chars > TITLE_MAX_CHARS {
        return Err(FieldError::new(
            "title",
            format!("title must be at most {TITLE_MAX_CHARS} characters (got {chars})"),
        ));
    }
    super::text::check_single_line("title", title)?;
    Ok(title.to_string())
}

/// `None`: absent. `Some(None)`: explicitly null. `Some(Some(text))`: a valid string.
fn optional_text(
    obj: &Map<String, Value>,
    field: &str,
    max_chars: usize,
    errors: &mut Vec<FieldError>,
) -> Option<Option<String>> {
    match obj.get(field) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(text)) => match optional_text_value(field, text, max_chars) {
            Ok(text) => Some(Some(text)),
            Err(error) => {
                errors.push(error);
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new(field, format!("{field} must be a string")));
            None
        }
    }
}

/// The rules of a multi-line text field: control characters refused, line ends normalised,
/// at most `max_chars` characters.
fn optional_text_value(field: &str, text: &str, max_chars: usize) -> Result<String, FieldError> {
    let text = super::text::normalize_multiline(field, text)?;
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(FieldError::new(
            field,
            format!("{field} must be at most {max_chars} characters (got {chars})"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
                TopicInput::from_text(title, description, source_text),
                TopicInput::parse(&body),
                "{body}"
            );
        }
    }

    #[test]
    fn title_is_trimmed_and_bounded() {
        let input = TopicInput::parse(&json!({"title": "  Cells  "})).expect("valid");
        assert_eq!(input.title, "Cells");
        assert!(TopicInput::parse(&json!({"title": "   "})).is_err());
        assert!(TopicInput::parse(&json!({"title": "x".repeat(201)})).is_err());
        assert!(TopicInput::parse(&json!({"title": "é".repeat(200)})).is_ok());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = TopicInput::parse(&json!({"title": 5, "description": [], "source_text": 1}))
            .expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "description", "source_text"]);
    }

    #[test]
    fn control_characters_are_refused_in_every_field() {
        let errors = TopicInput::parse(&json!({
            "title": "a\u{0}b", "description": "x\u{0}", "source_text": "y\u{1b}[2J"
        }))
        .expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "description", "source_text"]);
        let ok = TopicInput::parse(&json!({"title": "T", "source_text": "a\tb\r\nc"}))
            .expect("tab and newline are fine");
        assert_eq!(ok.source_text.as_deref(), Some("a\tb\nc"));
        assert!(TopicPatch::parse(&json!({"description": "\u{7}"})).is_err());
    }

    #[test]
    fn patch_distinguishes_absent_and_null() {
        let patch = TopicPatch::parse(&json!({"description": null})).expect("valid");
        assert_eq!(patch.description, Some(None));
        assert_eq!(patch.title, None);
        assert!(TopicPatch::parse(&json!({"title": null})).is_err());
        assert!(TopicPatch::parse(&json!([1])).is_err());
    }
}
