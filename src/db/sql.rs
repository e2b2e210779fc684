//! SQL that both drivers run as written. Placeholders are `$N`, which PostgreSQL and SQLite
//! (through sqlx) both take; each driver binds ids in its own encoding (PostgreSQL `uuid`,
//! SQLite text). What differs between the databases (locking, claiming, notifications) stays
//! in the drivers.

/// The statuses of an active generation (queued or running: [`BlueprintStatus::ACTIVE`]) as an
/// SQL list, for `status IN` and `status NOT IN`. A macro because `concat!` takes only literals;
/// a test below ties it to the domain's status machine. (The migrations' partial unique index
/// on active blueprints states the same list; migrations are not edited once applied.)
///
/// [`BlueprintStatus::ACTIVE`]: crate::domain::BlueprintStatus::ACTIVE
macro_rules! active_statuses {
    () => {
        "('queued', 'generating')"
    };
}

/// The blueprint columns, in the order the drivers' `blueprint_from_row` reads them by name.
macro_rules! blueprint_columns {
    () => {
        "b.id, b.topic_id, b.status, b.title, b.description, b.terminal_objectives_count, \
         b.enabling_objectives_count, b.target_terminal_objectives, b.error, b.error_code, \
         b.attempt, b.created_at, b.generation_started_at, b.finished_at, b.version, b.updated_at, \
         b.quality_json"
    };
}

/// The same columns for `RETURNING`, which takes no table alias.
macro_rules! returning_blueprint {
    () => {
        " RETURNING id, topic_id, status, title, description, terminal_objectives_count, \
         enabling_objectives_count, target_terminal_objectives, error, error_code, attempt, \
         created_at, generation_started_at, finished_at, version, updated_at, quality_json"
    };
}

/// Ends the active generations of topic `$3` in `cancelled` (`$1` the message, `$2` the time);
/// followed by `RETURNING` and, for one generation, `AND id = $4`.
macro_rules! cancel_active_of_topic {
    () => {
        concat!(
            "UPDATE blueprints SET status = 'cancelled', error = $1, error_code = 'cancelled', \
             finished_at = $2, version = version + 1, updated_at = $2 \
             WHERE topic_id = $3 AND status IN ",
            active_statuses!()
        )
    };
}

/// The oldest claimable job: never held or handed back (`worker_id` NULL), or held by a worker
/// whose lease ran out (`$1` now) while attempts remain (`$2` the most). The watchdog ends the
/// rest as `worker_lost`. Each driver adds how the claim becomes its transaction's.
macro_rules! claimable_job {
    () => {
        concat!(
            "SELECT j.blueprint_id, j.worker_id, b.attempt FROM generation_jobs j \
             JOIN blueprints b ON b.id = j.blueprint_id \
             WHERE j.finished_at IS NULL AND b.status IN ",
            active_statuses!(),
            " AND (j.worker_id IS NULL OR (j.lease_expires_at < $1 AND b.attempt < $2)) \
             ORDER BY j.enqueued_at LIMIT 1"
        )
    };
}

// Admission of a generation ($1 is always the topic or the user it is about).

pub const ACTIVE_GENERATION_OF_TOPIC: &str = concat!(
    "SELECT id FROM blueprints WHERE topic_id = $1 AND status IN ",
    active_statuses!()
);
pub const COUNT_ACTIVE_GENERATIONS: &str = concat!(
    "SELECT COUNT(*) FROM blueprints b JOIN topics t ON t.id = b.topic_id \
     WHERE t.owner_id = $1 AND b.status IN ",
    active_statuses!()
);
pub const GENERATION_STARTS_SINCE: &str =
    "SELECT COUNT(*) AS started, MIN(started_at) AS oldest FROM generation_starts \
     WHERE user_id = $1 AND started_at > $2";
pub const NOTE_GENERATION_START: &str =
    "INSERT INTO generation_starts (user_id, started_at) VALUES ($1, $2)";
pub const INSERT_BLUEPRINT: &str = concat!(
    "INSERT INTO blueprints (id, topic_id, status, target_terminal_objectives, \
     created_at, updated_at) VALUES ($1, $2, 'queued', $3, $4, $4)",
    returning_blueprint!()
);
pub const INSERT_JOB: &str =
    "INSERT INTO generation_jobs (blueprint_id, enqueued_at) VALUES ($1, $2)";

// Accounts.

pub const COUNT_ACCOUNTS: &str = "SELECT COUNT(*) FROM users WHERE id <> $1";
pub const INSERT_USER: &str = "INSERT INTO users (id, email, password_hash, is_admin, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING \
     RETURNING id, email, is_admin, created_at";
pub const HAND_OVER_TOPICS: &str = "UPDATE topics SET owner_id = $2 WHERE owner_id = $1";
pub const SESSION_BY_HASH: &str =
    "SELECT u.id, u.email, u.is_admin, u.created_at, s.id AS credential_id, \
     s.last_seen_at AS last_used_at \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2";
pub const TOUCH_SESSION: &str = "UPDATE sessions SET last_seen_at = $1 WHERE id = $2";
pub const API_TOKEN_BY_HASH: &str =
    "SELECT u.id, u.email, u.is_admin, u.created_at, t.id AS credential_id, t.last_used_at \
     FROM api_tokens t JOIN users u ON u.id = t.user_id \
     WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)";
pub const TOUCH_API_TOKEN: &str = "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2";

#[cfg(test)]
mod tests {
    use crate::domain::BlueprintStatus;

    #[test]
    fn the_active_status_list_is_the_domains() {
        let listed: Vec<String> = BlueprintStatus::ACTIVE
            .iter()
            .map(|status| format!("'{}'", status.as_str()))
            .collect();
        assert_eq!(active_statuses!(), format!("({})", listed.join(", ")));
        let not_terminal: Vec<BlueprintStatus> = BlueprintStatus::ALL
            .into_iter()
            .filter(|status| !status.is_terminal())
            .collect();
        assert_eq!(BlueprintStatus::ACTIVE.as_slice(), not_terminal.as_slice());
    }
}
