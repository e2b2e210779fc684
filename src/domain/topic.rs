//! Topics and the rules for their fields.

use serde::Serialize;
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

/// The rules of a title: trimmed, 1–200 characters, one line.
pub(super) fn title_text(raw: &str) -> Result<String, FieldError> {
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

/// The rules of a multi-line text field: control characters refused, line ends normalised,
/// at most `max_chars` characters.
pub(super) fn optional_text_value(
    field: &str,
    text: &str,
    max_chars: usize,
) -> Result<String, FieldError> {
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
    use crate::domain::requests::{CreateTopicRequest, RequestBody, UpdateTopicRequest};
    use serde_json::json;

    #[test]
    fn title_is_trimmed_and_bounded() {
        let parse = |body| CreateTopicRequest::validate_json(&body);
        let input = parse(json!({"title": "  Cells  "})).expect("valid");
        assert_eq!(input.title, "Cells");
        assert!(parse(json!({"title": "   "})).is_err());
        assert!(parse(json!({"title": "x".repeat(201)})).is_err());
        assert!(parse(json!({"title": "é".repeat(200)})).is_ok());
    }

    #[test]
    fn control_characters_are_refused_in_every_field() {
        let errors = CreateTopicRequest::validate_json(&json!({
            "title": "a\u{0}b", "description": "x\u{0}", "source_text": "y\u{1b}[2J"
        }))
        .expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "description", "source_text"]);
        let ok =
            CreateTopicRequest::validate_json(&json!({"title": "T", "source_text": "a\tb\r\nc"}))
                .expect("tab and newline are fine");
        assert_eq!(ok.source_text.as_deref(), Some("a\tb\nc"));
        assert!(UpdateTopicRequest::validate_json(&json!({"description": "\u{7}"})).is_err());
    }

    #[test]
    fn patch_distinguishes_absent_and_null() {
        let patch =
            UpdateTopicRequest::validate_json(&json!({"description": null})).expect("valid");
        assert_eq!(patch.description, Some(None));
        assert_eq!(patch.title, None);
        assert!(UpdateTopicRequest::validate_json(&json!({"title": null})).is_err());
        assert!(UpdateTopicRequest::validate_json(&json!([1])).is_err());
    }
}
