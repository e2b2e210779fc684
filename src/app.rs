//! Wiring: how a process is put together (the generator it runs). The state every request
//! handler sees is `http::AppState`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::{GeneratorConfig, GeneratorKind};
use crate::generator::offline::OfflineGenerator;
use crate::generator::openai::{OpenAiGenerator, OpenAiSettings};
use crate::generator::Generator;

/// Builds the configured generator; fails with a message naming the missing or bad setting.
pub fn build_generator(config: &GeneratorConfig) -> anyhow::Result<Arc<dyn Generator>> {
    match config.generator {
        GeneratorKind::Offline => Ok(Arc::new(OfflineGenerator {
            pace: Duration::from_millis(config.offline_pace_ms),
        })),
        GeneratorKind::Openai => {
            let required = |value: &Option<String>, variable: &str, example: &str| {
                value
                    .as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .with_context(|| {
                        format!(
                            "QUIZMASTER_GENERATOR=openai needs {variable} (e.g. {variable}={example})"
                        )
                    })
            };
            let settings = OpenAiSettings {
                base_url: required(
                    &config.llm_base_url,
                    "QUIZMASTER_LLM_BASE_URL",
                    "http://127.0.0.1:11434/v1",
                )?,
                model: required(&config.llm_model, "QUIZMASTER_LLM_MODEL", "llama3.1")?,
                api_key: config
                    .llm_api_key
                    .as_ref()
                    .map(|k| k.0.trim().to_string())
                    .filter(|k| !k.is_empty()),
                request_timeout: Duration::from_secs(config.llm_timeout_secs),
                max_attempts: config.llm_max_attempts,
                backoff_base: Duration::from_millis(500),
                backoff_max: Duration::from_secs(8),
            };
            Ok(Arc::new(OpenAiGenerator::new(settings)?))
        }
    }
}
