//! Ids as types: a topic's id cannot be passed where a blueprint's is expected; likewise the
//! attempt number of a job.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

uuid_id!(
    /// A topic's id.
    TopicId
);
uuid_id!(
    /// A blueprint's id (also its generation job's).
    BlueprintId
);
uuid_id!(
    /// A user's id.
    UserId
);
uuid_id!(
    /// An API token's id.
    TokenId
);
uuid_id!(
    /// A log-in session's id.
    SessionId
);

/// The number of a generation's attempt (1 for the first claim, one more for each rescue).
/// Every write of a worker is fenced by it: a type of its own, so that it cannot be swapped
/// with the times and lengths passed beside it (`renew_lease(id, attempt, now, lease_ms)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attempt(pub i64);

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_print_and_serialize_as_their_uuid() {
        let uuid = Uuid::now_v7();
        let id: TopicId = uuid.to_string().parse().expect("a uuid");
        assert_eq!(id, TopicId(uuid));
        assert_eq!(id.to_string(), uuid.to_string());
        assert_eq!(
            serde_json::to_string(&id).expect("json"),
            format!("\"{uuid}\"")
        );
        assert!("not-a-uuid".parse::<BlueprintId>().is_err());
    }
}
