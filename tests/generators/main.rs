//! Tests of the generators: the offline generator's quality gate over a corpus of our own,
//! and the `openai` generator against a fake OpenAI-compatible server on 127.0.0.1, scripted or
//! replaying recordings of real servers.

mod corpus;
mod fake_llm;
mod offline;
mod openai;
mod real_texts;
mod recorded;
