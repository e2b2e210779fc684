//! What QuizMaster asks the model: the JSON schema of the answer (in the order a writer needs
//! its keys), the `response_format` a server supports, the prompts, and the token budget.
//!
//! Key order matters. Grammar-constrained servers (llama.cpp, vLLM, Ollama) and OpenAI's
//! strict mode make the model write an object's keys in the schema's order. `serde_json`
//! without `preserve_order` sorts them alphabetically, which made small models pick a level
//! and write every enabling objective before the objective's own text, and the title last.
//! So the schema and the request body are built from [`Ordered`] values and serialised in
//! the order written here.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::domain::objective::VERB_LEVELS;
use crate::domain::BloomLevel;
use crate::generator::quality::{MAX_ENABLING, MIN_ENABLING};

/// At most this much source text goes into the prompt (characters) when the server does not
/// say how large its context is, so that a 200,000-char source still fits most models.
pub const SOURCE_PROMPT_CHARS: usize = 24_000;
/// Enabling objectives the schema lets a model write under one terminal objective: the rules
/// allow up to [`MAX_ENABLING`], but every one costs a slow local model seconds.
pub const SCHEMA_MAX_ENABLING: usize = 3;
/// Output tokens allowed for the title and description.
const HEAD_TOKENS: u32 = 120;
/// Output tokens allowed per terminal objective with its enabling objectives: four objectives
/// of up to 30 words with their JSON keys (about 110 tokens each as Qwen2.5 writes them)
/// fit; a model that loops is cut off instead of running to the end of its context.
const TOKENS_PER_TERMINAL: u32 = 500;
/// Characters per token when estimating a prompt's size: English runs near 4, JSON and
/// numbers lower; 3 keeps the estimate on the safe side.
const CHARS_PER_TOKEN: usize = 3;
/// Tokens kept free in the context for the chat template's own tokens.
const TEMPLATE_TOKENS: u32 = 96;

/// A JSON value whose object keys serialise in the order they were written.
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Ordered::Null => serializer.serialize_unit(),
            Ordered::Bool(b) => serializer.serialize_bool(*b),
            Ordered::Int(i) => serializer.serialize_i64(*i),
            Ordered::Str(s) => serializer.serialize_str(s),
            Ordered::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Ordered::Object(pairs) => {
                let mut map = serializer.serialize_map(Some(pairs.len()))?;
                for (key, value) in pairs {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl From<&str> for Ordered {
    fn from(s: &str) -> Self {
        Ordered::Str(s.to_string())
    }
}

impl From<String> for Ordered {
    fn from(s: String) -> Self {
        Ordered::Str(s)
    }
}

impl From<bool> for Ordered {
    fn from(b: bool) -> Self {
        Ordered::Bool(b)
    }
}

impl From<usize> for Ordered {
    fn from(n: usize) -> Self {
        Ordered::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<u32> for Ordered {
    fn from(n: u32) -> Self {
        Ordered::Int(i64::from(n))
    }
}

impl<T: Into<Ordered>> From<Vec<T>> for Ordered {
    fn from(items: Vec<T>) -> Self {
        Ordered::List(items.into_iter().map(Into::into).collect())
    }
}

/// An object from `(key, value)` pairs, in that order.
pub fn object<const N: usize>(pairs: [(&str, Ordered); N]) -> Ordered {
    Ordered::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// How a server is asked for JSON. Servers differ: OpenAI, vLLM, Ollama and llama.cpp's own
/// server take `json_schema`; llama-cpp-python's server refuses it but takes `json_object`
/// with a `schema`; some take neither. The generator starts at the first and steps down when
/// a server refuses (see `server.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseMode {
    /// `{"type": "json_schema", "json_schema": {"name", "strict", "schema"}}`.
    JsonSchema,
    /// `{"type": "json_object", "schema": ...}` (llama-cpp-python).
    JsonObjectWithSchema,
    /// No `response_format`: the prompt shows the shape, the scanner checks the answer.
    Instruction,
}

impl ResponseMode {
    pub const ALL: [ResponseMode; 3] = [
        ResponseMode::JsonSchema,
        ResponseMode::JsonObjectWithSchema,
        ResponseMode::Instruction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::JsonSchema => "json_schema",
            ResponseMode::JsonObjectWithSchema => "json_object_schema",
            ResponseMode::Instruction => "json_by_instruction",
        }
    }

    /// The next mode to try when a server refuses this one.
    pub fn fallback(self) -> Option<ResponseMode> {
        match self {
            ResponseMode::JsonSchema => Some(ResponseMode::JsonObjectWithSchema),
            ResponseMode::JsonObjectWithSchema => Some(ResponseMode::Instruction),
            ResponseMode::Instruction => None,
        }
    }
}

/// Which JSON-schema features the schema may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaDialect {
    /// Lengths and item counts, which grammar-constrained servers enforce token by token.
    Constrained,
    /// OpenAI's strict mode: every key required, no additional properties, enums and
    /// nullable types, but none of `minLength`/`maxLength`/`minItems`/`maxItems`, which it
    /// has rejected or ignored; the scanner checks those rules instead.
    Strict,
}

impl SchemaDialect {
    /// Strict for OpenAI's own API (and Azure's), constrained for every other server.
    pub fn for_base_url(base_url: &str) -> Self {
        let host = reqwest::Url::parse(base_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        if host == "api.openai.com" || host.ends_with(".openai.azure.com") {
            SchemaDialect::Strict
        } else {
            SchemaDialect::Constrained
        }
    }
}

fn levels() -> Ordered {
    BloomLevel::ALL
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .into()
}

/// The verb table's verbs a terminal objective (at apply or above) or any objective may use.
fn verb_names(terminal: bool) -> Vec<&'static str> {
    VERB_LEVELS
        .iter()
        .filter(|(_, level)| !terminal || *level >= BloomLevel::Apply)
        .map(|(verb, _)| *verb)
        .collect()
}

fn verbs(terminal: bool) -> Ordered {
    verb_names(terminal).into()
}

/// An objective's text. For grammar-constrained servers a pattern makes the model start it
/// with a verb of the table (at apply or above for a terminal objective) and write at least a
/// few words after it: the text comes before the `verb` field, so the verb's enum alone could
/// not stop "Define photosynthesis" as a terminal objective.
fn text(dialect: SchemaDialect, terminal: bool) -> Ordered {
    match dialect {
        SchemaDialect::Strict => object([("type", "string".into())]),
        SchemaDialect::Constrained => {
            let verbs: Vec<String> = verb_names(terminal)
                .iter()
                .map(|verb| {
                    let mut chars = verb.chars();
                    chars
                        .next()
                        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                        .unwrap_or_default()
                })
                .collect();
            // No quote or backslash inside: the grammar writes the string's characters raw.
            let pattern = format!("^({}) [^\"\\\\]{{20,180}}$", verbs.join("|"));
            object([("type", "string".into()), ("pattern", pattern.into())])
        }
    }
}

fn string(dialect: SchemaDialect, min: usize, max: usize) -> Ordered {
    match dialect {
        SchemaDialect::Strict => object([("type", "string".into())]),
        SchemaDialect::Constrained => object([
            ("type", "string".into()),
            ("minLength", min.into()),
            ("maxLength", max.into()),
        ]),
    }
}

fn nullable_string(dialect: SchemaDialect, max: usize) -> Ordered {
    let kinds: Ordered = vec!["string", "null"].into();
    match dialect {
        SchemaDialect::Strict => object([("type", kinds)]),
        SchemaDialect::Constrained => object([("type", kinds), ("maxLength", max.into())]),
    }
}

fn array(dialect: SchemaDialect, items: Ordered, min: usize, max: usize) -> Ordered {
    match dialect {
        SchemaDialect::Strict => object([("type", "array".into()), ("items", items)]),
        SchemaDialect::Constrained => object([
            ("type", "array".into()),
            ("minItems", min.into()),
            ("maxItems", max.into()),
            ("items", items),
        ]),
    }
}

/// One objective: text first (the writer's thought), then the verb it starts with, its level,
/// condition and criterion; a terminal objective's enabling objectives last.
fn objective(dialect: SchemaDialect, with_enabling: bool) -> Ordered {
    let mut properties = vec![
        ("text".to_string(), text(dialect, with_enabling)),
        (
            "verb".to_string(),
            object([("type", "string".into()), ("enum", verbs(with_enabling))]),
        ),
        (
            "bloom_level".to_string(),
            object([("type", "string".into()), ("enum", levels())]),
        ),
        ("condition".to_string(), nullable_string(dialect, 120)),
        ("criterion".to_string(), nullable_string(dialect, 120)),
    ];
    if with_enabling {
        properties.push((
            "enabling_objectives".to_string(),
            array(
                dialect,
                objective(dialect, false),
                MIN_ENABLING,
                SCHEMA_MAX_ENABLING.min(MAX_ENABLING),
            ),
        ));
    }
    let required: Vec<Ordered> = properties
        .iter()
        .map(|(key, _)| key.as_str().into())
        .collect();
    Ordered::Object(vec![
        ("type".into(), "object".into()),
        ("properties".into(), Ordered::Object(properties)),
        ("required".into(), Ordered::List(required)),
        ("additionalProperties".into(), false.into()),
    ])
}

/// The JSON schema of the model's answer: the contract's document, every field required, no
/// others, keys in the order a writer needs them; `terminals` is how many are asked for.
pub fn blueprint_schema(dialect: SchemaDialect, terminals: usize) -> Ordered {
    let terminals = terminals.max(1);
    object([
        ("type", "object".into()),
        (
            "properties",
            object([
                ("title", string(dialect, 3, 120)),
                ("description", string(dialect, 0, 300)),
                (
                    "terminal_objectives",
                    array(dialect, objective(dialect, true), terminals, terminals),
                ),
            ]),
        ),
        (
            "required",
            vec!["title", "description", "terminal_objectives"].into(),
        ),
        ("additionalProperties", false.into()),
    ])
}

/// The `response_format` for a mode, or `None` when the prompt alone asks for JSON.
pub fn response_format(mode: ResponseMode, schema: Ordered) -> Option<Ordered> {
    match mode {
        ResponseMode::JsonSchema => Some(object([
            ("type", "json_schema".into()),
            (
                "json_schema",
                object([
                    ("name", "blueprint".into()),
                    ("strict", true.into()),
                    ("schema", schema),
                ]),
            ),
        ])),
        ResponseMode::JsonObjectWithSchema => {
            Some(object([("type", "json_object".into()), ("schema", schema)]))
        }
        ResponseMode::Instruction => None,
    }
}

pub const SYSTEM_PROMPT: &str = "You are an expert instructional designer. You write quiz \
blueprints as learning objectives following Bloom's revised taxonomy and Mager's ABCD model. \
Rules for every objective: the text is one sentence of 5 to 30 words that starts with one \
measurable verb (for example define, list, explain, classify, apply, calculate, solve, analyze, \
compare, distinguish, evaluate, justify, critique, design, construct, propose); \"verb\" is that \
first word alone; \"bloom_level\" is the level that verb stands for (remember, understand, \
apply, analyze, evaluate, create); it names exactly one observable behaviour; it never uses \
understand, know, learn, appreciate, be familiar with, be aware of or similar; the condition \
(like \"given a data table\") and the criterion (like \"with 80% accuracy\") go in their own \
fields, or null. A terminal objective starts with a verb at apply or above (apply, calculate, \
predict, solve, compare, analyze, evaluate, justify, design); define, list, describe and explain \
belong in its 2 or 3 enabling objectives, which sit at or below its level, lowest first. No two objectives may be \
near-duplicates. Cover the key concepts of the material. Answer with compact JSON only, without \
indentation.";

/// Shown to servers that take no schema: the shape of the answer, keys in order.
pub const SHAPE_EXAMPLE: &str = "Answer with one JSON object and nothing else, shaped like this \
example: {\"title\": \"Osmosis\", \"description\": \"Water movement across membranes\", \
\"terminal_objectives\": [{\"text\": \"Predict the direction of water flow between two \
solutions of different concentration\", \"verb\": \"predict\", \"bloom_level\": \"apply\", \
\"condition\": \"given two solute concentrations\", \"criterion\": null, \
\"enabling_objectives\": [{\"text\": \"Define osmosis in terms of water potential\", \"verb\": \
\"define\", \"bloom_level\": \"remember\", \"condition\": null, \"criterion\": null}, {\"text\": \
\"Explain why water moves towards the higher solute concentration\", \"verb\": \"explain\", \
\"bloom_level\": \"understand\", \"condition\": null, \"criterion\": null}]}]}";

/// The chat-completions request, fields in a fixed order.
#[derive(Debug, Serialize)]
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub stream: bool,
    pub max_tokens: u32,
    /// Low for local servers, where small models keep to the rules better without sampling
    /// noise; left out for OpenAI, whose reasoning models refuse any but the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    pub messages: Vec<ChatMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Ordered>,
}

#[derive(Debug, Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

/// How much one call asks for and shows, so that prompt and answer fit the server's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Terminal objectives this call asks for.
    pub terminals: usize,
    /// `max_tokens` for the answer.
    pub max_tokens: u32,
    /// Characters of source text the prompt may quote.
    pub source_chars: usize,
}

/// A token estimate for a text (on the high side).
pub fn estimate_tokens(chars: usize) -> u32 {
    u32::try_from(chars.div_ceil(CHARS_PER_TOKEN)).unwrap_or(u32::MAX)
}

/// Plans one call. `fixed_chars` is the prompt without its source excerpt; `source_chars`
/// the whole source; `context` the server's context in tokens when it says.
///
/// Without a known context the call asks for every remaining objective and quotes up to
/// [`SOURCE_PROMPT_CHARS`]. With one, the answer for every remaining objective comes first,
/// the source gets what is left (but at least half of the room when the answer would crowd
/// it out entirely), and when even that does not fit, fewer objectives are asked for in this
/// call: the next call asks for the rest.
pub fn plan(
    context: Option<u32>,
    fixed_chars: usize,
    source_chars: usize,
    remaining: usize,
) -> Budget {
    let remaining = remaining.max(1);
    let wanted = |n: usize| HEAD_TOKENS + TOKENS_PER_TERMINAL * u32::try_from(n).unwrap_or(1000);
    let source_cap = source_chars.min(SOURCE_PROMPT_CHARS);
    let Some(context) = context else {
        return Budget {
            terminals: remaining,
            max_tokens: wanted(remaining),
            source_chars: source_cap,
        };
    };
    let room = context
        .saturating_sub(TEMPLATE_TOKENS)
        .saturating_sub(estimate_tokens(fixed_chars));
    let source_tokens = estimate_tokens(source_cap);
    let answer_all = wanted(remaining);
    let source_room = if room >= answer_all + source_tokens {
        source_tokens
    } else {
        room.saturating_sub(answer_all)
            .max(source_tokens.min(room / 2))
    }
    // The answer for one objective always keeps its room.
    .min(room.saturating_sub(wanted(1)));
    let answer_room = room - source_room;
    let fits = (answer_room.saturating_sub(HEAD_TOKENS) / TOKENS_PER_TERMINAL) as usize;
    let terminals = fits.clamp(1, remaining);
    Budget {
        terminals,
        max_tokens: wanted(terminals).min(answer_room).max(1),
        source_chars: (source_room as usize * CHARS_PER_TOKEN).min(source_cap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn position(text: &str, needle: &str) -> usize {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} not in {text}"))
    }

    #[test]
    fn schema_keys_come_in_the_writers_order() {
        let text = serde_json::to_string(&blueprint_schema(SchemaDialect::Constrained, 3))
            .expect("serialises");
        // Top level: title before description before the objectives.
        assert!(position(&text, "\"title\"") < position(&text, "\"description\""));
        assert!(position(&text, "\"description\"") < position(&text, "\"terminal_objectives\""));
        // Inside an objective: text, verb, bloom_level, condition, criterion, enabling.
        let terminal = &text[position(&text, "\"terminal_objectives\"")..];
        let order = [
            "\"text\"",
            "\"verb\"",
            "\"bloom_level\"",
            "\"condition\"",
            "\"criterion\"",
            "\"enabling_objectives\"",
        ];
        let positions: Vec<usize> = order.iter().map(|k| position(terminal, k)).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{positions:?} in {terminal}"
        );
    }

    #[test]
    fn the_constrained_schema_carries_the_rules_and_the_strict_one_only_what_openai_takes() {
        let constrained: Value =
            serde_json::to_value(blueprint_schema(SchemaDialect::Constrained, 5)).expect("json");
        let terminals = &constrained["properties"]["terminal_objectives"];
        assert_eq!(terminals["minItems"], 5);
        assert_eq!(terminals["maxItems"], 5);
        let terminal = &terminals["items"];
        assert_eq!(terminal["additionalProperties"], false);
        assert_eq!(terminal["required"].as_array().map(Vec::len), Some(6));
        let enabling = &terminal["properties"]["enabling_objectives"];
        assert_eq!(enabling["minItems"], MIN_ENABLING);
        assert_eq!(enabling["maxItems"], SCHEMA_MAX_ENABLING);
        assert_eq!(
            enabling["items"]["required"].as_array().map(Vec::len),
            Some(5)
        );
        let verbs = terminal["properties"]["verb"]["enum"]
            .as_array()
            .expect("verb enum");
        assert!(verbs.iter().any(|v| v == "calculate"));
        assert!(!verbs.iter().any(|v| v == "understand"));
        assert_eq!(
            terminal["properties"]["bloom_level"]["enum"],
            serde_json::json!([
                "remember",
                "understand",
                "apply",
                "analyze",
                "evaluate",
                "create"
            ])
        );
        let pattern = terminal["properties"]["text"]["pattern"]
            .as_str()
            .expect("a pattern on the text");
        assert!(
            pattern.starts_with("^(") && pattern.ends_with("{20,180}$"),
            "{pattern}"
        );
        assert!(pattern.contains("|Calculate|"), "{pattern}");
        assert!(
            !pattern.contains("|Define|"),
            "terminal verbs are at apply or above: {pattern}"
        );
        let enabling_pattern = enabling["items"]["properties"]["text"]["pattern"]
            .as_str()
            .expect("a pattern on the text");
        assert!(enabling_pattern.contains("Define|"), "{enabling_pattern}");
        assert!(
            !verbs.iter().any(|v| v == "define"),
            "terminal verbs: {verbs:?}"
        );

        let strict =
            serde_json::to_string(&blueprint_schema(SchemaDialect::Strict, 5)).expect("json");
        for unsupported in ["minLength", "maxLength", "minItems", "maxItems", "pattern"] {
            assert!(!strict.contains(unsupported), "{unsupported} in {strict}");
        }
        assert!(strict.contains("\"enum\""));
        assert!(strict.contains("\"additionalProperties\":false"));
    }

    #[test]
    fn openai_gets_the_strict_dialect_and_local_servers_the_constrained_one() {
        assert_eq!(
            SchemaDialect::for_base_url("https://api.openai.com/v1"),
            SchemaDialect::Strict
        );
        assert_eq!(
            SchemaDialect::for_base_url("https://x.openai.azure.com/openai/v1"),
            SchemaDialect::Strict
        );
        assert_eq!(
            SchemaDialect::for_base_url("http://127.0.0.1:8080/v1"),
            SchemaDialect::Constrained
        );
    }

    #[test]
    fn each_mode_asks_in_its_own_shape() {
        let schema = || blueprint_schema(SchemaDialect::Constrained, 1);
        let json_schema: Value =
            serde_json::to_value(response_format(ResponseMode::JsonSchema, schema())).expect("");
        assert_eq!(json_schema["type"], "json_schema");
        assert_eq!(json_schema["json_schema"]["strict"], true);
        assert!(json_schema["json_schema"]["schema"].is_object());
        let object: Value = serde_json::to_value(response_format(
            ResponseMode::JsonObjectWithSchema,
            schema(),
        ))
        .expect("");
        assert_eq!(object["type"], "json_object");
        assert!(object["schema"].is_object());
        assert!(response_format(ResponseMode::Instruction, schema()).is_none());
        assert_eq!(
            ResponseMode::JsonSchema.fallback(),
            Some(ResponseMode::JsonObjectWithSchema)
        );
        assert_eq!(
            ResponseMode::JsonObjectWithSchema.fallback(),
            Some(ResponseMode::Instruction)
        );
        assert_eq!(ResponseMode::Instruction.fallback(), None);
    }

    #[test]
    fn the_shape_example_is_valid_json_that_passes_as_an_answer() {
        let start = SHAPE_EXAMPLE.find('{').expect("object");
        let value: Value = serde_json::from_str(&SHAPE_EXAMPLE[start..]).expect("valid JSON");
        assert_eq!(value["terminal_objectives"][0]["verb"], "predict");
    }

    #[test]
    fn the_budget_asks_for_everything_when_the_context_is_unknown_or_large() {
        let unknown = plan(None, 3_000, 100_000, 6);
        assert_eq!(unknown.terminals, 6);
        assert_eq!(unknown.max_tokens, HEAD_TOKENS + 6 * TOKENS_PER_TERMINAL);
        assert_eq!(unknown.source_chars, SOURCE_PROMPT_CHARS);
        let large = plan(Some(128_000), 3_000, 10_000, 6);
        assert_eq!(large.terminals, 6);
        assert_eq!(large.source_chars, 10_000);
    }

    #[test]
    fn the_budget_keeps_prompt_and_answer_inside_a_small_context() {
        for (context, fixed, source, remaining) in [
            (4_096u32, 2_000usize, 30_000usize, 6usize),
            (4_096, 2_000, 500, 10),
            (2_048, 2_500, 8_000, 6),
            (8_192, 1_500, 200_000, 6),
        ] {
            let budget = plan(Some(context), fixed, source, remaining);
            let prompt = estimate_tokens(fixed + budget.source_chars) + TEMPLATE_TOKENS;
            assert!(
                prompt + budget.max_tokens <= context,
                "{context} {fixed} {source} {remaining}: {budget:?} with a prompt of {prompt}"
            );
            assert!(budget.terminals >= 1 && budget.terminals <= remaining);
            assert!(
                budget.max_tokens >= HEAD_TOKENS + TOKENS_PER_TERMINAL * budget.terminals as u32
            );
        }
        // A short source is quoted whole when it fits beside the answer.
        assert_eq!(plan(Some(4_096), 2_000, 500, 4).source_chars, 500);
        // A long source gets cut, not the answer for a handful of objectives.
        let long = plan(Some(4_096), 2_000, 30_000, 3);
        assert_eq!(long.terminals, 3);
        assert!(long.source_chars < 30_000);
    }
}
