//! The JSON API under `/api`.

pub mod blueprints;
pub mod topics;
