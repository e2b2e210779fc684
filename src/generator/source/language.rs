//! Which language a source is written in, and that language's function words.

use std::collections::BTreeSet;

/// ISO 639-3 (as `whatlang` names languages) to ISO 639-1 (as the contract reports them), for
/// the languages that have stop-word lists.
const ISO_639_1: &[(&str, &str)] = &[
    ("eng", "en"),
    ("deu", "de"),
    ("fra", "fr"),
    ("spa", "es"),
    ("ita", "it"),
    ("por", "pt"),
    ("nld", "nl"),
    ("swe", "sv"),
    ("dan", "da"),
    ("nob", "no"),
    ("fin", "fi"),
    ("pol", "pl"),
    ("ces", "cs"),
    ("slk", "sk"),
    ("slv", "sl"),
    ("hrv", "hr"),
    ("hun", "hu"),
    ("ron", "ro"),
    ("tur", "tr"),
    ("rus", "ru"),
    ("ukr", "uk"),
    ("bul", "bg"),
    ("ell", "el"),
    ("lit", "lt"),
    ("lav", "lv"),
    ("est", "et"),
    ("cat", "ca"),
    ("ind", "id"),
    ("vie", "vi"),
    ("jpn", "ja"),
    ("kor", "ko"),
    ("cmn", "zh"),
    ("ara", "ar"),
    ("heb", "he"),
    ("hin", "hi"),
    ("pes", "fa"),
];

/// English language names, for the notes a teacher reads.
const NAMES: &[(&str, &str)] = &[
    ("en", "English"),
    ("de", "German"),
    ("fr", "French"),
    ("es", "Spanish"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("sv", "Swedish"),
    ("da", "Danish"),
    ("no", "Norwegian"),
    ("fi", "Finnish"),
    ("pl", "Polish"),
    ("cs", "Czech"),
    ("hu", "Hungarian"),
    ("ro", "Romanian"),
    ("tr", "Turkish"),
    ("ru", "Russian"),
];

/// The source's language as an ISO 639-1 code. Short or mixed texts whose guess is unreliable
/// count as English, the language of the templates.
pub fn detect(prose: &str) -> &'static str {
    // Detection over the first part is as good as over all of it, and keeps long sources fast.
    let sample: String = prose.chars().take(6_000).collect();
    let Some(info) = whatlang::detect(&sample) else {
        return "en";
    };
    if sample.split_whitespace().count() < 12 || info.confidence() < 0.5 {
        return "en";
    }
    let code = info.lang().code();
    ISO_639_1
        .iter()
        .find(|(three, _)| *three == code)
        .map(|(_, two)| *two)
        .unwrap_or("en")
}

/// "German" for "de"; the code itself for a language without a name here.
pub fn name(code: &str) -> String {
    NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| code.to_string())
}

/// The language's function words, lower case (empty for a language without a list).
pub fn stop_words(code: &str) -> BTreeSet<String> {
    // English has a tagger; its general stop-word lists drop content words ("system",
    // "unit", "value"), so English keeps the project's own short list.
    if code == "en" {
        return crate::generator::text::STOP_WORDS
            .iter()
            .map(|w| w.to_string())
            .collect();
    }
    stop_words::lookup(code)
        .map(|words| words.iter().map(|w| w.to_lowercase()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_german_french_and_english() {
        assert_eq!(
            detect("Das Programm speichert mehrere Dateien zusammen in einem einzigen Archiv und kann einzelne Dateien aus dem Archiv wiederherstellen."),
            "de"
        );
        assert_eq!(
            detect("La Révolution française est une période de bouleversements politiques et sociaux en France, qui commence en 1789 et se termine en 1799."),
            "fr"
        );
        assert_eq!(
            detect("Photosynthesis is the process by which green plants use light energy to make sugars from carbon dioxide and water."),
            "en"
        );
        assert_eq!(detect("Lock"), "en");
    }

    #[test]
    fn stop_words_exist_for_the_main_languages() {
        assert!(stop_words("de").contains("der"));
        assert!(stop_words("fr").contains("les"));
        assert!(stop_words("xx").is_empty());
    }
}
