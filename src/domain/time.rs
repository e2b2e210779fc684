//! Time as the database stores it (integer milliseconds since the Unix epoch) and as the API
//! shows it (RFC 3339, UTC). Integer milliseconds sort and compare the same on every backend.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-29T04:13:09.123Z`.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serializes `i64` milliseconds as RFC 3339.
pub mod ms_as_rfc3339 {
    pub fn serialize<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*ms))
    }
}

/// Serializes `Option<i64>` milliseconds as RFC 3339 or null.
pub mod opt_ms_as_rfc3339 {
    pub fn serialize<S: serde::Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&super::rfc3339(*ms)),
            None => s.serialize_none(),
        }
    }
}
