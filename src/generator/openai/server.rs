//! What QuizMaster has learnt about a model server, kept for the life of the process: which
//! `response_format` it takes, and how large its context is.
//!
//! The mode is remembered so that every later generation asks in the way that worked, without
//! first paying for a refused request; it is logged once when it changes and shown in
//! `/metrics` as `quizmaster_llm_response_format{server, mode}` (1 for the mode in use).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::request::ResponseMode;
use crate::telemetry::LLM_RESPONSE_FORMAT;

/// How long the context probes may take; a server that does not answer that fast is taken
/// to have neither endpoint.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Ollama's context when a model sets no `num_ctx`: its default in the versions that document
/// one (older ones used 2048, newer ones 4096).
const OLLAMA_DEFAULT_CONTEXT: u32 = 4096;

/// What one generator has learnt about its server (one generator talks to one base URL, and
/// the process builds one generator, so this is the memory per base URL).
#[derive(Default)]
pub struct ServerMemory {
    mode: Mutex<Option<ResponseMode>>,
    /// By model; `None` inside: probed, and the server did not say.
    context: Mutex<HashMap<String, Option<u32>>>,
}

impl ServerMemory {
    /// The mode to ask in: the one that worked last, or `json_schema` at first.
    pub fn response_mode(&self) -> ResponseMode {
        self.mode
            .lock()
            .ok()
            .and_then(|mode| *mode)
            .unwrap_or(ResponseMode::JsonSchema)
    }

    /// Records the mode in use and shows it in `/metrics`; logs once when it changes to a
    /// fallback. `shown` is the base URL without any password.
    pub fn use_mode(&self, shown: &str, mode: ResponseMode) {
        let changed = match self.mode.lock() {
            Ok(mut current) => {
                let changed = *current != Some(mode);
                *current = Some(mode);
                changed
            }
            Err(_) => false,
        };
        for other in ResponseMode::ALL {
            metrics::gauge!(LLM_RESPONSE_FORMAT, "server" => shown.to_string(), "mode" => other.as_str())
                .set(if other == mode { 1.0 } else { 0.0 });
        }
        if changed && mode != ResponseMode::JsonSchema {
            tracing::warn!(
                server = %shown,
                mode = mode.as_str(),
                "the model server refused the stricter response_format; asking it this way from now on"
            );
        }
    }

    /// The server's context in tokens, asked once per model: llama.cpp's `/props`, then
    /// Ollama's `/api/show`; `None` when it has neither (OpenAI, vLLM, llama-cpp-python).
    pub async fn context_tokens(
        &self,
        client: &reqwest::Client,
        base_url: &str,
        model: &str,
    ) -> Option<u32> {
        let known = self
            .context
            .lock()
            .ok()
            .and_then(|context| context.get(model).copied());
        if let Some(known) = known {
            return known;
        }
        let origin = origin(base_url);
        let mut context = None;
        if let Some(props) = get_json(client.get(format!("{origin}/props"))).await {
            context = llama_cpp_context(&props);
        }
        if context.is_none() {
            let show = client
                .post(format!("{origin}/api/show"))
                .json(&serde_json::json!({"model": model}));
            if let Some(show) = get_json(show).await {
                context = ollama_context(&show);
            }
        }
        if let Ok(mut known) = self.context.lock() {
            known.insert(model.to_string(), context);
        }
        context
    }
}

/// `http://host:port/v1` → `http://host:port`: both servers answer these at their root.
fn origin(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    base.strip_suffix("/v1").unwrap_or(base).to_string()
}

async fn get_json(request: reqwest::RequestBuilder) -> Option<Value> {
    let response = request.timeout(PROBE_TIMEOUT).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json::<Value>().await.ok()
}

fn positive(value: &Value) -> Option<u32> {
    value
        .as_u64()
        .filter(|n| *n > 0)
        .and_then(|n| u32::try_from(n).ok())
}

/// llama.cpp's `/props`: the context of one slot (`n_ctx` divided among parallel slots), in
/// `default_generation_settings.n_ctx` (or at the top in some versions).
pub fn llama_cpp_context(props: &Value) -> Option<u32> {
    positive(&props["default_generation_settings"]["n_ctx"]).or_else(|| positive(&props["n_ctx"]))
}

/// Ollama's `/api/show`: `num_ctx` from the model's parameters when set, else Ollama's default
/// capped by the model's own trained context (`model_info["<arch>.context_length"]`).
pub fn ollama_context(show: &Value) -> Option<u32> {
    let from_parameters = show["parameters"].as_str().and_then(|parameters| {
        parameters.lines().find_map(|line| {
            let mut parts = line.split_whitespace();
            (parts.next() == Some("num_ctx"))
                .then(|| parts.next().and_then(|n| n.parse::<u32>().ok()))
                .flatten()
        })
    });
    if from_parameters.is_some() {
        return from_parameters;
    }
    let trained = show["model_info"].as_object().and_then(|info| {
        info.iter()
            .find(|(k, _)| k.ends_with(".context_length"))
            .and_then(|(_, v)| positive(v))
    })?;
    Some(trained.min(OLLAMA_DEFAULT_CONTEXT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_context_is_read_from_llama_cpp_and_ollama_answers() {
        assert_eq!(
            llama_cpp_context(&json!({"default_generation_settings": {"n_ctx": 4096}})),
            Some(4096)
        );
        assert_eq!(llama_cpp_context(&json!({"n_ctx": 8192})), Some(8192));
        assert_eq!(llama_cpp_context(&json!({"model": "x"})), None);
        assert_eq!(
            ollama_context(
                &json!({"parameters": "stop \"<|im_end|>\"\nnum_ctx 8192", "model_info": {"qwen2.context_length": 32768}})
            ),
            Some(8192)
        );
        assert_eq!(
            ollama_context(&json!({"model_info": {"llama.context_length": 131072}})),
            Some(OLLAMA_DEFAULT_CONTEXT)
        );
        assert_eq!(
            ollama_context(&json!({"model_info": {"gemma.context_length": 2048}})),
            Some(2048)
        );
        assert_eq!(ollama_context(&json!({"error": "model not found"})), None);
    }

    #[test]
    fn the_mode_is_remembered() {
        let memory = ServerMemory::default();
        assert_eq!(memory.response_mode(), ResponseMode::JsonSchema);
        memory.use_mode("http://h/v1", ResponseMode::JsonObjectWithSchema);
        assert_eq!(memory.response_mode(), ResponseMode::JsonObjectWithSchema);
        assert_eq!(origin("http://h:8080/v1/"), "http://h:8080");
        assert_eq!(origin("http://h:8080"), "http://h:8080");
    }
}
