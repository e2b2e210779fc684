//! Reading and validating the HTML forms. Validation reuses the domain's rules (the same as the
//! JSON API's), and every problem is reported next to its field.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};
use axum::Form;

use super::UiError;
use crate::domain::blueprint::{TARGET_MAX, TARGET_MIN};
use crate::domain::requests::{CreateTopicRequest, Field, GenerateRequest, RequestBody};
use crate::domain::TopicInput;

/// The fields of a form, in the order sent, with an uploaded file if there was one.
#[derive(Default)]
pub struct FormFields {
    fields: Vec<(String, String)>,
    file: Option<Upload>,
}

pub struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

impl FormFields {
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// Reads `application/x-www-form-urlencoded` or `multipart/form-data` (with at most one
    /// file, in the field `upload_field`).
    pub async fn from_request(request: Request, upload_field: &str) -> Result<Self, UiError> {
        let is_multipart = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("multipart/form-data"));
        if !is_multipart {
            let Form(fields) = Form::<Vec<(String, String)>>::from_request(request, &())
                .await
                .map_err(|rejection| {
                    UiError::Status(
                        rejection.status(),
                        "The form could not be read; please send it again.".into(),
                    )
                })?;
            return Ok(Self { fields, file: None });
        }
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|rejection| UiError::Status(rejection.status(), rejection.body_text()))?;
        let mut form = Self::default();
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(err) => return Err(upload_failed(err)),
            };
            let name = field.name().unwrap_or("").to_string();
            let file_name = field.file_name().map(str::to_string);
            let bytes = field.bytes().await.map_err(upload_failed)?;
            match file_name {
                // A file input left empty still sends a part, with an empty name and body.
                Some(file_name) if name == upload_field => {
                    if !file_name.is_empty() || !bytes.is_empty() {
                        form.file = Some(Upload {
                            file_name,
                            bytes: bytes.to_vec(),
                        });
                    }
                }
                _ => form
                    .fields
                    .push((name, String::from_utf8_lossy(&bytes).into_owned())),
            }
        }
        Ok(form)
    }
}

fn upload_failed(err: axum::extract::multipart::MultipartError) -> UiError {
    let status = err.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "The form is larger than the limit of 2 MiB; upload a smaller file.".to_string()
    } else {
        "The form could not be read; please send it again.".to_string()
    };
    UiError::Status(status, message)
}

/// What the topic form holds, kept to show again when it has errors.
#[derive(Default, Clone)]
pub struct TopicFormValues {
    pub title: String,
    pub description: String,
    pub source_text: String,
}

#[derive(Default)]
pub struct TopicFormErrors {
    pub title: Option<String>,
    pub description: Option<String>,
    pub source_text: Option<String>,
    pub source_file: Option<String>,
}

impl TopicFormErrors {
    pub fn any(&self) -> bool {
        self.title.is_some()
            || self.description.is_some()
            || self.source_text.is_some()
            || self.source_file.is_some()
    }

    pub fn count(&self) -> usize {
        [
            &self.title,
            &self.description,
            &self.source_text,
            &self.source_file,
        ]
        .iter()
        .filter(|e| e.is_some())
        .count()
    }
}

/// A topic form that did not validate: what to show again, and why.
pub struct InvalidTopicForm {
    pub values: TopicFormValues,
    pub errors: TopicFormErrors,
}

const UPLOAD_EXTENSIONS: [&str; 3] = [".txt", ".md", ".markdown"];

/// Validates the topic form. Source material is pasted text or an uploaded `.txt`/`.md` file.
pub fn parse_topic(form: &FormFields) -> Result<TopicInput, Box<InvalidTopicForm>> {
    let mut values = TopicFormValues {
        title: form.get("title").to_string(),
        description: form.get("description").to_string(),
        source_text: form.get("source_text").to_string(),
    };
    let mut errors = TopicFormErrors::default();
    let mut source = values.source_text.clone();
    if let Some(upload) = &form.file {
        let lower = upload.file_name.to_ascii_lowercase();
        if !UPLOAD_EXTENSIONS.iter().any(|ext| lower.ends_with(ext)) {
            errors.source_file = Some("Upload a text file ending in .txt or .md.".into());
        } else if !values.source_text.trim().is_empty() {
            errors.source_file = Some(
                "Paste the source material or upload a file, not both: clear one of them.".into(),
            );
        } else {
            match String::from_utf8(upload.bytes.clone()) {
                Ok(text) => {
                    source = text.trim_start_matches('\u{feff}').to_string();
                    if source.trim().is_empty() {
                        errors.source_file = Some("The uploaded file is empty.".into());
                    }
                }
                Err(_) => {
                    errors.source_file = Some(
                        "The file is not UTF-8 text; save it as UTF-8 and upload it again.".into(),
                    )
                }
            }
        }
    }
    // Empty optional fields mean "none", as a person leaving them blank intends.
    fn optional(text: &str) -> Option<&str> {
        Some(text).filter(|text| !text.trim().is_empty())
    }
    let parsed = CreateTopicRequest::from_text(
        &values.title,
        optional(&values.description),
        optional(&source),
    )
    .into_domain();
    if let Err(field_errors) = &parsed {
        for error in field_errors {
            let message = Some(sentence(&error.message));
            match error.field.as_str() {
                "title" => errors.title = message,
                "description" => errors.description = message,
                "source_text" if form.file.is_some() && errors.source_file.is_none() => {
                    errors.source_file = message
                }
                _ => errors.source_text = message,
            }
        }
    }
    match parsed {
        Ok(input) if !errors.any() => Ok(input),
        _ => {
            if form.file.is_some() && errors.source_file.is_none() && errors.source_text.is_none() {
                // The file's text was read; keep it in the box so it is not uploaded again.
                values.source_text = source;
            }
            Err(Box::new(InvalidTopicForm { values, errors }))
        }
    }
}

/// "title must not be empty" → "Title must not be empty."
pub fn sentence(message: &str) -> String {
    let message = message.replace("source_text", "source material");
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// Validates the generation form's target; `Err` holds the message for the field.
/// The rules are the API's ([`GenerateRequest`]); a blank box asks for the default, and text
/// that is no whole number is a value of the wrong type.
pub fn parse_target(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    let target_terminal_objectives = match raw.parse::<i64>() {
        _ if raw.is_empty() => Field::Absent,
        Ok(n) => Field::Given(n),
        Err(_) => Field::WrongType,
    };
    GenerateRequest {
        target_terminal_objectives,
    }
    .into_domain()
    .map_err(|_| format!("Enter a whole number from {TARGET_MIN} to {TARGET_MAX}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> FormFields {
        FormFields {
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file: file.map(|(name, bytes)| Upload {
                file_name: name.into(),
                bytes: bytes.to_vec(),
            }),
        }
    }

    #[test]
    fn blank_optional_fields_are_none_and_the_title_is_trimmed() {
        let input = parse_topic(&form(
            &[
                ("title", "  Cells "),
                ("description", " "),
                ("source_text", ""),
            ],
            None,
        ))
        .ok()
        .expect("valid");
        assert_eq!(input.title, "Cells");
        assert_eq!(input.description, None);
        assert_eq!(input.source_text, None);
    }

    #[test]
    fn an_uploaded_markdown_file_becomes_the_source() {
        let input = parse_topic(&form(
            &[("title", "T")],
            Some(("notes.MD", b"# Notes\nText")),
        ))
        .ok()
        .expect("valid");
        assert_eq!(input.source_text.as_deref(), Some("# Notes\nText"));
    }

    #[test]
    fn errors_keep_what_was_typed_and_name_the_field() {
        let Err(invalid) = parse_topic(&form(
            &[("title", "   "), ("description", "kept")],
            Some(("slides.pdf", b"%PDF")),
        )) else {
            panic!("should fail");
        };
        let InvalidTopicForm { values, errors } = *invalid;
        assert_eq!(values.description, "kept");
        assert!(errors.title.is_some());
        assert!(errors
            .source_file
            .as_deref()
            .is_some_and(|m| m.contains(".txt")));
        assert_eq!(errors.count(), 2);
    }

    #[test]
    fn the_target_is_bounded() {
        use crate::domain::blueprint::TARGET_DEFAULT;
        assert_eq!(parse_target(""), Ok(TARGET_DEFAULT));
        assert_eq!(parse_target(" 7 "), Ok(7));
        assert!(parse_target("0").is_err());
        assert!(parse_target("31").is_err());
        assert!(parse_target("seven").is_err());
    }
}
