//! Rules every stored text field shares: which characters it may hold.
//!
//! Control characters are refused everywhere (PostgreSQL cannot store NUL at all, and the
//! others only ever corrupt logs, terminals and exports), except tab and newline in the
//! multi-line fields. A CR LF pair (what a browser sends for a newline in a form) is read as a
//! newline first. One-line fields (titles, names) also refuse the invisible characters that
//! make a text look like another: zero-width spaces, the byte-order mark and the bidirectional
//! embeddings, overrides and isolates. Zero-width joiners and non-joiners stay allowed: some
//! scripts and emoji need them.

use super::FieldError;

/// Whether `c` is an invisible character that one-line fields refuse.
pub fn is_deceptive_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'              // zero-width space
        | '\u{2060}'            // word joiner
        | '\u{FEFF}'            // zero-width no-break space (byte-order mark)
        | '\u{180E}'            // Mongolian vowel separator
        | '\u{200E}' | '\u{200F}' | '\u{061C}' // directional marks
        | '\u{202A}'..='\u{202E}' // embeddings and overrides
        | '\u{2066}'..='\u{2069}' // isolates
    )
}

/// A one-line field: no control characters and no deceptive invisible ones.
pub fn check_single_line(field: &str, text: &str) -> Result<(), FieldError> {
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    if text.chars().any(is_deceptive_format) {
        return Err(FieldError::new(
            field,
            format!(
                "{field} must not contain invisible formatting characters (zero-width or right-to-left controls)"
            ),
        ));
    }
    Ok(())
}

/// A multi-line field: CR LF becomes LF; then no control characters but tab and newline.
pub fn normalize_multiline(field: &str, text: &str) -> Result<String, FieldError> {
    let text = if text.contains('\r') {
        text.replace("\r\n", "\n")
    } else {
        text.to_string()
    };
    if text
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n')
    {
        return Err(FieldError::new(
            field,
            format!("{field} must not contain control characters (tab and newline are fine)"),
        ));
    }
    Ok(text)
}

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters (spaces inside allowed), trimmed.
pub fn parse_idempotency_key(raw: &str) -> Result<String, FieldError> {
    let key = raw.trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(FieldError::new(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_fields_refuse_controls_and_invisible_tricks() {
        assert!(check_single_line("title", "Cells and tissues").is_ok());
        assert!(check_single_line("title", "नमस्ते").is_ok());
        assert!(
            check_single_line("title", "👩\u{200D}🔬 lab").is_ok(),
            "ZWJ emoji"
        );
        for bad in [
            "a\0b",
            "a\tb",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{200B}b",
            "a\u{202E}b",
            "\u{FEFF}a",
        ] {
            assert!(check_single_line("title", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn multi_line_fields_keep_tab_and_newline_and_read_crlf_as_newline() {
        assert_eq!(
            normalize_multiline("source_text", "a\tb\r\nc\n").as_deref(),
            Ok("a\tb\nc\n")
        );
        for bad in ["a\0b", "a\rb", "a\u{1b}[31m", "a\u{7}"] {
            assert!(normalize_multiline("source_text", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert_eq!(parse_idempotency_key(" k-1 ").as_deref(), Ok("k-1"));
        for bad in ["", "a\0b", "a\tb", "é", &"x".repeat(256)] {
            assert!(parse_idempotency_key(bad).is_err(), "{bad:?}");
        }
    }
}
