//! The JSON API under `/api`.

pub mod auth;
pub mod blueprints;
pub mod idempotency;
pub mod topics;
