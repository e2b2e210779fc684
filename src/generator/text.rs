//! Small text tools shared by the offline generator and the quality checks: our own stop-word
//! list, a word normaliser (plural folding), and the words that end a key phrase.

/// Words that separate key phrases and carry no content. Deliberately small and free of
/// domain words such as "system", "state", "value", "function" or "process", which general
/// stop-word lists wrongly drop.
pub const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "across",
    "after",
    "again",
    "against",
    "all",
    "almost",
    "along",
    "already",
    "also",
    "although",
    "always",
    "am",
    "among",
    "an",
    "and",
    "another",
    "any",
    "are",
    "around",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "cannot",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "down",
    "during",
    "each",
    "either",
    "else",
    "enough",
    "etc",
    "even",
    "ever",
    "every",
    "few",
    "first",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "least",
    "less",
    "like",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "neither",
    "never",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "often",
    "on",
    "once",
    "one",
    "only",
    "onto",
    "or",
    "other",
    "others",
    "otherwise",
    "our",
    "out",
    "over",
    "own",
    "per",
    "perhaps",
    "quite",
    "rather",
    "really",
    "same",
    "second",
    "several",
    "she",
    "should",
    "since",
    "so",
    "some",
    "something",
    "sometimes",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "therefore",
    "these",
    "they",
    "third",
    "this",
    "those",
    "though",
    "three",
    "through",
    "thus",
    "to",
    "together",
    "too",
    "toward",
    "towards",
    "two",
    "under",
    "unless",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "via",
    "was",
    "we",
    "well",
    "were",
    "what",
    "whatever",
    "when",
    "where",
    "whereas",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    // Words of the genre, not of the subject.
    "chapter",
    "lecture",
    "notes",
    "note",
    "section",
    "introduction",
    "summary",
    "example",
    "examples",
    "e.g",
    "i.e",
    "called",
    "known",
    "usually",
    "typically",
    "generally",
    "mainly",
    "mostly",
    "simply",
    "especially",
    "particular",
    "particularly",
    "important",
    "various",
    "different",
    "new",
    "good",
    "great",
    "main",
    "certain",
    "way",
    "ways",
    "thing",
    "things",
    "lot",
    "kind",
    "kinds",
    "part",
    "parts",
    "today",
    "let",
    "lets",
    "course",
    "overview",
    "background",
    "conclusion",
    "review",
    "basics",
    "introductory",
    "lesson",
    "unit",
    "module",
    "topic",
    "topics",
    "students",
    "student",
    "higher",
    "lower",
    "larger",
    "smaller",
    "greater",
    "better",
    "worse",
    "popular",
    "number",
    "numbers",
    "amount",
];

/// Frequent verbs (in every form we meet) that end a key phrase, so "chlorophyll absorbs
/// light energy" yields "chlorophyll" and "light energy", not one verb-laden fragment. Only
/// words that are rarely nouns in teaching text: "map", "store", "process", "set", "mean",
/// "result", "return" or "support" are left out on purpose.
pub const PHRASE_BREAKING_VERBS: &[&str] = &[
    "absorb",
    "accept",
    "achieve",
    "affect",
    "allow",
    "appear",
    "apply",
    "arise",
    "become",
    "begin",
    "belong",
    "bring",
    "carry",
    "compare",
    "compute",
    "consider",
    "consist",
    "contain",
    "continue",
    "convert",
    "create",
    "decide",
    "define",
    "depend",
    "describe",
    "determine",
    "develop",
    "differ",
    "enable",
    "encourage",
    "ensure",
    "enter",
    "exist",
    "explain",
    "find",
    "follow",
    "get",
    "give",
    "go",
    "grow",
    "happen",
    "include",
    "indicate",
    "involve",
    "keep",
    "leave",
    "let",
    "lose",
    "make",
    "need",
    "occur",
    "prevent",
    "produce",
    "provide",
    "put",
    "receive",
    "reduce",
    "refer",
    "reflect",
    "remain",
    "represent",
    "require",
    "reveal",
    "say",
    "see",
    "seem",
    "serve",
    "suggest",
    "take",
    "tend",
    "turn",
    "understand",
    "use",
    "vary",
    "want",
    "write",
];

/// Irregular verb forms that also end a phrase.
const IRREGULAR_VERB_FORMS: &[&str] = &[
    "fell", "fed", "rose", "fought", "won", "sought", "struck", "drove", "threw", "chose", "spoke",
    "told", "thought", "felt", "heard", "paid", "sold", "bought", "taught", "became", "began",
    "begun", "broke", "broken", "brought", "built", "came", "found", "gave", "given", "goes",
    "gone", "got", "gotten", "grew", "grown", "held", "kept", "led", "left", "lies", "lay", "lost",
    "made", "meant", "met", "ran", "said", "saw", "seen", "sent", "shown", "stood", "took",
    "taken", "went", "wrote", "written",
];

/// Whether a word (lower case) is a form of a phrase-breaking verb: the base, "-s", "-es",
/// "-ed", "-d", "-ies"/"-ied", or an irregular form. Gerunds are kept: "load balancing" is a
/// concept.
pub fn is_breaking_verb(word: &str) -> bool {
    if IRREGULAR_VERB_FORMS.contains(&word) {
        return true;
    }
    PHRASE_BREAKING_VERBS.iter().any(|verb| {
        word == *verb
            || word
                .strip_prefix(verb)
                .is_some_and(|rest| matches!(rest, "s" | "es" | "ed" | "d"))
            || verb
                .strip_suffix('y')
                .and_then(|stem| word.strip_prefix(stem))
                .is_some_and(|rest| matches!(rest, "ies" | "ied"))
    })
}

/// Whether a word is a stop word (case-insensitive).
pub fn is_stop_word(lower: &str) -> bool {
    STOP_WORDS.contains(&lower)
}

/// Folds simple English plurals so "hash function" and "hash functions" are one concept:
/// "-ies" → "-y", "-sses"/"-ches"/"-shes"/"-xes" → drop "-es", otherwise a final "-s" (not
/// "-ss", "-us", "-is"). Lower case.
pub fn normalise_word(word: &str) -> String {
    /// Words that end in "s" but are not plurals.
    const SINGULAR_S: &[&str] = &[
        "series", "species", "news", "chaos", "ethos", "pathos", "lens", "atlas", "canvas", "bias",
        "gas", "bus", "plus", "alias", "always", "perhaps", "whereas", "thus",
    ];
    let lower = word.to_lowercase();
    let n = lower.len();
    if SINGULAR_S.contains(&lower.as_str()) || lower.ends_with("ics") {
        lower
    } else if n > 6 && lower.ends_with("oes") {
        // volcanoes, tomatoes, heroes (not "shoes").
        lower[..n - 2].to_string()
    } else if n > 4 && lower.ends_with("ies") {
        format!("{}y", &lower[..n - 3])
    } else if n > 4
        && (lower.ends_with("sses")
            || lower.ends_with("ches")
            || lower.ends_with("shes")
            || lower.ends_with("xes"))
    {
        lower[..n - 2].to_string()
    } else if n > 3
        && lower.ends_with('s')
        && !lower.ends_with("ss")
        && !lower.ends_with("us")
        && !lower.ends_with("is")
        && lower.is_char_boundary(n - 1)
    {
        lower[..n - 1].to_string()
    } else {
        lower
    }
}

/// The content words of a text: normalised, without stop words, in order.
pub fn content_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '-' && c != '\'')
        .map(|w| w.trim_matches(|c| c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
        .filter(|w| !is_stop_word(&w.to_lowercase()))
        .map(normalise_word)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_fold() {
        assert_eq!(normalise_word("Functions"), "function");
        assert_eq!(normalise_word("processes"), "process");
        assert_eq!(normalise_word("branches"), "branch");
        assert_eq!(normalise_word("theories"), "theory");
        assert_eq!(normalise_word("analysis"), "analysis");
        assert_eq!(normalise_word("stimulus"), "stimulus");
        assert_eq!(normalise_word("class"), "class");
        assert_eq!(normalise_word("economics"), "economics");
        assert_eq!(normalise_word("species"), "species");
    }

    #[test]
    fn verbs_break_phrases_but_gerunds_and_nouns_do_not() {
        for verb in [
            "absorbs", "absorbed", "carries", "varied", "produces", "made",
        ] {
            assert!(is_breaking_verb(verb), "{verb}");
        }
        for noun in ["balancing", "map", "process", "state", "light", "energy"] {
            assert!(!is_breaking_verb(noun), "{noun}");
        }
    }
}
