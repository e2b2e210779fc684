//! The driver code that is the same on both databases, written once and compiled into each
//! driver (sqlx's connections and rows are different types per database, so the one text is
//! instantiated twice instead of being made generic over sqlx's traits).
//!
//! A driver module that invokes these macros defines, before the invocation:
//! - `DbRow`: its row type;
//! - `db_id(id)`: an id (a `Uuid` or one of the domain's typed ids) as the driver stores it
//!   (PostgreSQL `uuid`, SQLite text);
//! - `uuid_col(&DbRow, &str)` and `opt_uuid_col(&DbRow, &str)`: an id column read back;
//! - on the store, `write_tx()`: a write transaction (SQLite: `BEGIN IMMEDIATE`, on the one
//!   connection of the write pool), and `write_optional(query)` and `write_execute(query)`: one
//!   write statement run so that a failed commit is reported (SQLite: in an explicit
//!   transaction on the write pool). Every write goes through one of these, never straight to
//!   `self.pool` (SQLite's read pool), and none is called while a write transaction is held;
//! - `CLAIM_CANDIDATE`: the statement that picks the oldest claimable job (`$1` now, `$2` the
//!   most attempts) and makes it the transaction's: PostgreSQL locks it `FOR UPDATE SKIP
//!   LOCKED`, SQLite's write lock already does;
//! - `DELETE_ONE_THROTTLE_EVENT`: deletes one event of key `$1` at `$2` (by `ctid`/`rowid`);
//! - `LOCK_OWNED_TOPIC`: finds topic `$1` of owner `$2` and locks its row (PostgreSQL) so
//!   that one topic's admissions take turns.
//!
//! Every statement uses `$N` placeholders, which both databases take.

/// Row decoders.
macro_rules! shared_rows {
    () => {
        async fn insert_objective(
            tx: &mut DbTx,
            blueprint_id: BlueprintId,
            terminal_id: Option<Uuid>,
            position: i64,
            draft: &ObjectiveDraft,
        ) -> Result<Uuid, sqlx::Error> {
            let id = Uuid::now_v7();
            let query = match terminal_id {
                None => sqlx::query(
                    "INSERT INTO terminal_objectives \
                     (id, blueprint_id, position, text, bloom_level, verb, condition, criterion, \
                      evidence) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(db_id(id))
                .bind(db_id(blueprint_id)),
                Some(terminal_id) => sqlx::query(
                    "INSERT INTO enabling_objectives \
                     (id, terminal_objective_id, blueprint_id, position, text, bloom_level, verb, \
                      condition, criterion, evidence) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(db_id(id))
                .bind(db_id(terminal_id))
                .bind(db_id(blueprint_id)),
            };
            query
                .bind(position)
                .bind(draft.text.clone())
                .bind(draft.bloom_level.as_str())
                .bind(draft.verb.clone())
                .bind(draft.condition.clone())
                .bind(draft.criterion.clone())
                // Cut to the contract's limit by the domain before it reaches the database.
                .bind(draft.stored_evidence())
                .execute(&mut **tx)
                .await?;
            Ok(id)
        }

        /// Ends the job rows of the generations an update of `blueprints` just ended (the rows
        /// it returned), in the caller's transaction; returns the ended blueprints.
        async fn end_jobs(
            tx: &mut DbTx,
            rows: &[DbRow],
            now: i64,
        ) -> Result<Vec<Blueprint>, sqlx::Error> {
            let ended = rows
                .iter()
                .map(blueprint_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            for blueprint in &ended {
                sqlx::query(
                    "UPDATE generation_jobs \
                     SET finished_at = $1, worker_id = NULL, lease_expires_at = NULL \
                     WHERE blueprint_id = $2 AND finished_at IS NULL",
                )
                .bind(now)
                .bind(db_id(blueprint.id))
                .execute(&mut **tx)
                .await?;
            }
            Ok(ended)
        }

        fn decode_err(what: &str, value: &str) -> sqlx::Error {
            sqlx::Error::Decode(format!("invalid {what} {value:?} in the database").into())
        }

        fn topic_from_row(row: &DbRow) -> Result<Topic, sqlx::Error> {
            Ok(Topic {
                id: uuid_col(row, "id")?,
                title: row.try_get("title")?,
                description: row.try_get("description")?,
                source_text: row.try_get("source_text")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn user_from_row(row: &DbRow) -> Result<User, sqlx::Error> {
            Ok(User {
                id: uuid_col(row, "id")?,
                email: row.try_get("email")?,
                is_admin: row.try_get("is_admin")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn credential_from_row(row: &DbRow) -> Result<Credential, sqlx::Error> {
            Ok(Credential {
                user: user_from_row(row)?,
                id: uuid_col(row, "credential_id")?,
                last_used_at: row.try_get("last_used_at")?,
            })
        }

        fn api_token_from_row(row: &DbRow) -> Result<ApiTokenInfo, sqlx::Error> {
            Ok(ApiTokenInfo {
                id: uuid_col(row, "id")?,
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        }

        fn blueprint_from_row(row: &DbRow) -> Result<Blueprint, sqlx::Error> {
            let status: String = row.try_get("status")?;
            let error_code: Option<String> = row.try_get("error_code")?;
            let quality_json: Option<String> = row.try_get("quality_json")?;
            Ok(Blueprint {
                id: uuid_col(row, "id")?,
                topic_id: uuid_col(row, "topic_id")?,
                status: BlueprintStatus::parse(&status)
                    .ok_or_else(|| decode_err("status", &status))?,
                title: row.try_get("title")?,
                description: row.try_get("description")?,
                terminal_objectives_count: row.try_get("terminal_objectives_count")?,
                enabling_objectives_count: row.try_get("enabling_objectives_count")?,
                target_terminal_objectives: row.try_get("target_terminal_objectives")?,
                error: row.try_get("error")?,
                error_code: match error_code {
                    Some(code) => {
                        Some(ErrorCode::parse(&code).ok_or_else(|| decode_err("code", &code))?)
                    }
                    None => None,
                },
                attempt: row.try_get("attempt")?,
                created_at: row.try_get("created_at")?,
                generation_started_at: row.try_get("generation_started_at")?,
                finished_at: row.try_get("finished_at")?,
                version: row.try_get("version")?,
                updated_at: row.try_get("updated_at")?,
                quality: match quality_json {
                    // Unreadable quality is shown as none rather than failing the blueprint.
                    Some(json) => serde_json::from_str(&json).ok().map(Box::new),
                    None => None,
                },
            })
        }

        fn objective_from_row(row: &DbRow) -> Result<Objective, sqlx::Error> {
            let level: String = row.try_get("bloom_level")?;
            Ok(Objective {
                id: uuid_col(row, "id")?,
                position: row.try_get("position")?,
                text: row.try_get("text")?,
                bloom_level: BloomLevel::parse(&level)
                    .ok_or_else(|| decode_err("level", &level))?,
                verb: row.try_get("verb")?,
                condition: row.try_get("condition")?,
                criterion: row.try_get("criterion")?,
                // NULL for objectives stored before migration 0004.
                evidence: row.try_get("evidence")?,
            })
        }
    };
}

/// `impl WriteTx for $tx`, where `$tx` wraps the driver's `Transaction` as field `.0`. The
/// driver's own primitives (how it makes callers take turns) are passed in.
macro_rules! write_tx_impl {
    ($tx:ty { $($own:tt)* }) => {
        #[async_trait]
        impl WriteTx for $tx {
            $($own)*

            async fn commit(self: Box<Self>) -> StoreResult<()> {
                Ok(self.0.commit().await?)
            }

            async fn lock_owned_topic(
                &mut self,
                topic_id: TopicId,
                owner_id: UserId,
            ) -> StoreResult<bool> {
                let found = sqlx::query(LOCK_OWNED_TOPIC)
                    .bind(db_id(topic_id))
                    .bind(db_id(owner_id))
                    .fetch_optional(&mut *self.0)
                    .await?;
                Ok(found.is_some())
            }

            async fn active_generation_of_topic(
                &mut self,
                topic_id: TopicId,
            ) -> StoreResult<Option<BlueprintId>> {
                let row = sqlx::query(sql::ACTIVE_GENERATION_OF_TOPIC)
                    .bind(db_id(topic_id))
                    .fetch_optional(&mut *self.0)
                    .await?;
                Ok(row.map(|row| uuid_col(&row, "id").map(BlueprintId)).transpose()?)
            }

            async fn count_active_generations(&mut self, owner_id: UserId) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(sql::COUNT_ACTIVE_GENERATIONS)
                    .bind(db_id(owner_id))
                    .fetch_one(&mut *self.0)
                    .await?)
            }

            async fn generation_starts_since(
                &mut self,
                user_id: UserId,
                since: i64,
            ) -> StoreResult<(i64, Option<i64>)> {
                let row = sqlx::query(sql::GENERATION_STARTS_SINCE)
                    .bind(db_id(user_id))
                    .bind(since)
                    .fetch_one(&mut *self.0)
                    .await?;
                Ok((row.try_get("started")?, row.try_get("oldest")?))
            }

            async fn note_generation_start(&mut self, user_id: UserId, at: i64) -> StoreResult<()> {
                sqlx::query(sql::NOTE_GENERATION_START)
                    .bind(db_id(user_id))
                    .bind(at)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn insert_generation(
                &mut self,
                blueprint_id: BlueprintId,
                topic_id: TopicId,
                target_terminal_objectives: i64,
                now: i64,
            ) -> StoreResult<Blueprint> {
                let row = sqlx::query(sql::INSERT_BLUEPRINT)
                    .bind(db_id(blueprint_id))
                    .bind(db_id(topic_id))
                    .bind(target_terminal_objectives)
                    .bind(now)
                    .fetch_one(&mut *self.0)
                    .await?;
                sqlx::query(sql::INSERT_JOB)
                    .bind(db_id(blueprint_id))
                    .bind(now)
                    .execute(&mut *self.0)
                    .await?;
                Ok(blueprint_from_row(&row)?)
            }

            async fn throttle_event_filling(
                &mut self,
                key: &str,
                since: i64,
                limit: i64,
            ) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT at FROM throttle_events WHERE key = $1 AND at > $2 \
                     ORDER BY at DESC LIMIT 1 OFFSET $3",
                )
                .bind(key.to_string())
                .bind(since)
                .bind((limit - 1).max(0))
                .fetch_optional(&mut *self.0)
                .await?)
            }

            async fn note_throttle_event(&mut self, key: &str, at: i64) -> StoreResult<()> {
                sqlx::query("INSERT INTO throttle_events (key, at) VALUES ($1, $2)")
                    .bind(key.to_string())
                    .bind(at)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn count_accounts(&mut self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(sql::COUNT_ACCOUNTS)
                    .bind(db_id(LOCAL_USER_ID))
                    .fetch_one(&mut *self.0)
                    .await?)
            }

            async fn insert_user(
                &mut self,
                new: &NewUser,
                is_admin: bool,
            ) -> StoreResult<Option<User>> {
                let row = sqlx::query(sql::INSERT_USER)
                    .bind(db_id(new.id))
                    .bind(new.email.clone())
                    .bind(new.password_hash.clone())
                    .bind(is_admin)
                    .bind(new.now)
                    .fetch_optional(&mut *self.0)
                    .await?;
                Ok(row.as_ref().map(user_from_row).transpose()?)
            }

            async fn hand_over_topics(&mut self, from: UserId, to: UserId) -> StoreResult<()> {
                sqlx::query(sql::HAND_OVER_TOPICS)
                    .bind(db_id(from))
                    .bind(db_id(to))
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }
        }
    };
}

/// `impl Store for $store`, where `$store` has a `pool`. What differs between the databases
/// (connecting, migrations, the change feed, beginning a write) is the driver's own, passed in;
/// every operation is here.
macro_rules! store_impl {
    ($store:ty { $($own:tt)* }) => {
        impl $store {
            async fn credential(
                &self,
                statement: &'static str,
                token_hash: &str,
                now: i64,
            ) -> StoreResult<Option<Credential>> {
                let row = sqlx::query(statement)
                    .bind(token_hash.to_string())
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(credential_from_row).transpose()?)
            }

            async fn touch(
                &self,
                statement: &'static str,
                id: impl Into<Uuid> + Send,
                now: i64,
            ) -> StoreResult<()> {
                self.write_execute(sqlx::query(statement)
                    .bind(now)
                    .bind(db_id(id))
                    )
                    .await?;
                Ok(())
            }

            /// Runs an update of `blueprints` that ends generations (`RETURNING` their rows) and
            /// ends their jobs, in one transaction.
            async fn end_generations(
                &self,
                query: DbQuery<'_>,
                now: i64,
            ) -> StoreResult<Vec<Blueprint>> {
                let mut tx = self.write_tx().await?;
                let rows = query.fetch_all(&mut *tx).await?;
                let ended = end_jobs(&mut tx, &rows, now).await?;
                tx.commit().await?;
                Ok(ended)
            }

            /// Runs `DELETE ... WHERE id = $1 AND user_id = $2`; whether a row went.
            async fn delete_owned(
                &self,
                statement: &'static str,
                user_id: UserId,
                id: impl Into<Uuid> + Send,
            ) -> StoreResult<bool> {
                let deleted = self.write_execute(sqlx::query(statement)
                    .bind(db_id(id))
                    .bind(db_id(user_id))
                    )
                    .await?;
                Ok(deleted > 0)
            }
        }

        #[async_trait]
        impl Store for $store {
            $($own)*

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn session_by_hash(
                &self,
                token_hash: &str,
                now: i64,
            ) -> StoreResult<Option<Credential>> {
                self.credential(sql::SESSION_BY_HASH, token_hash, now).await
            }

            async fn touch_session(&self, id: SessionId, now: i64) -> StoreResult<()> {
                self.touch(sql::TOUCH_SESSION, id, now).await
            }

            async fn api_token_by_hash(
                &self,
                token_hash: &str,
                now: i64,
            ) -> StoreResult<Option<Credential>> {
                self.credential(sql::API_TOKEN_BY_HASH, token_hash, now).await
            }

            async fn touch_api_token(&self, id: TokenId, now: i64) -> StoreResult<()> {
                self.touch(sql::TOUCH_API_TOKEN, id, now).await
            }

            async fn user_credentials(
                &self,
                email: &str,
            ) -> StoreResult<Option<(User, String)>> {
                let row = sqlx::query(
                    "SELECT id, email, is_admin, created_at, password_hash FROM users \
                     WHERE email = $1 AND password_hash IS NOT NULL",
                )
                .bind(email.to_string())
                .fetch_optional(&self.pool)
                .await?;
                Ok(row
                    .map(|row| {
                        Ok::<_, sqlx::Error>((user_from_row(&row)?, row.try_get("password_hash")?))
                    })
                    .transpose()?)
            }

            async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
                self.write_execute(sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash.to_string())
                    )
                    .await?;
                Ok(())
            }

            async fn list_sessions(
                &self,
                user_id: UserId,
                now: i64,
            ) -> StoreResult<Vec<SessionInfo>> {
                let rows = sqlx::query(
                    "SELECT id, created_at, last_seen_at, expires_at, client FROM sessions \
                     WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC",
                )
                .bind(db_id(user_id))
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(|row| {
                        let created_at: i64 = row.try_get("created_at")?;
                        // NULL in SQLite rows stored before the column was always set.
                        let last_seen_at: Option<i64> = row.try_get("last_seen_at")?;
                        Ok::<_, sqlx::Error>(SessionInfo {
                            id: uuid_col(row, "id")?,
                            created_at,
                            last_seen_at: last_seen_at.unwrap_or(created_at),
                            expires_at: row.try_get("expires_at")?,
                            client: row.try_get("client")?,
                            current: false,
                        })
                    })
                    .collect::<Result<_, _>>()?)
            }

            async fn delete_user_session(&self, user_id: UserId, id: SessionId) -> StoreResult<bool> {
                self.delete_owned("DELETE FROM sessions WHERE id = $1 AND user_id = $2", user_id, id)
                    .await
            }

            async fn list_api_tokens(&self, user_id: UserId) -> StoreResult<Vec<ApiTokenInfo>> {
                let rows = sqlx::query(
                    "SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens \
                     WHERE user_id = $1 ORDER BY created_at, id",
                )
                .bind(db_id(user_id))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(api_token_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn delete_api_token(&self, user_id: UserId, id: TokenId) -> StoreResult<bool> {
                self.delete_owned(
                    "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2",
                    user_id,
                    id,
                )
                .await
            }

            async fn email_registered(&self, email: &str) -> StoreResult<bool> {
                let found: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM users WHERE email = $1")
                        .bind(email.to_string())
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(found.is_some())
            }

            async fn clear_throttle_events(&self, key: &str) -> StoreResult<()> {
                self.write_execute(sqlx::query("DELETE FROM throttle_events WHERE key = $1")
                    .bind(key.to_string())
                    )
                    .await?;
                Ok(())
            }

            async fn topic_owner(&self, topic_id: TopicId) -> StoreResult<Option<UserId>> {
                let row = sqlx::query("SELECT owner_id FROM topics WHERE id = $1")
                    .bind(db_id(topic_id))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|row| uuid_col(&row, "owner_id").map(UserId)).transpose()?)
            }

            async fn get_topic(&self, id: TopicId) -> StoreResult<Option<Topic>> {
                let row = sqlx::query(
                    "SELECT id, title, description, source_text, created_at, updated_at \
                     FROM topics WHERE id = $1",
                )
                .bind(db_id(id))
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.as_ref().map(topic_from_row).transpose()?)
            }

            async fn get_blueprint(
                &self,
                topic_id: TopicId,
                id: BlueprintId,
            ) -> StoreResult<BlueprintLookup> {
                let row = sqlx::query(concat!(
                    "SELECT t.id AS topic_exists, ",
                    blueprint_columns!(),
                    " FROM topics t LEFT JOIN blueprints b ON b.id = $1 AND b.topic_id = t.id \
                     WHERE t.id = $2"
                ))
                .bind(db_id(id))
                .bind(db_id(topic_id))
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else {
                    return Ok(BlueprintLookup::TopicNotFound);
                };
                if opt_uuid_col(&row, "id")?.is_none() {
                    return Ok(BlueprintLookup::BlueprintNotFound);
                }
                Ok(BlueprintLookup::Found(blueprint_from_row(&row)?))
            }

            async fn get_blueprint_by_id(&self, id: BlueprintId) -> StoreResult<Option<Blueprint>> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    blueprint_columns!(),
                    " FROM blueprints b WHERE b.id = $1"
                ))
                .bind(db_id(id))
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.as_ref().map(blueprint_from_row).transpose()?)
            }

            async fn get_objectives(
                &self,
                blueprint_id: BlueprintId,
            ) -> StoreResult<Vec<TerminalObjective>> {
                let terminal_rows = sqlx::query(
                    "SELECT id, position, text, bloom_level, verb, condition, criterion, \
                     evidence FROM terminal_objectives WHERE blueprint_id = $1 ORDER BY position",
                )
                .bind(db_id(blueprint_id))
                .fetch_all(&self.pool)
                .await?;
                let enabling_rows = sqlx::query(
                    "SELECT terminal_objective_id, id, position, text, bloom_level, verb, \
                     condition, criterion, evidence FROM enabling_objectives \
                     WHERE blueprint_id = $1 ORDER BY terminal_objective_id, position",
                )
                .bind(db_id(blueprint_id))
                .fetch_all(&self.pool)
                .await?;
                let mut terminals = terminal_rows
                    .iter()
                    .map(|row| {
                        Ok(TerminalObjective {
                            objective: objective_from_row(row)?,
                            enabling_objectives: Vec::new(),
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                for row in &enabling_rows {
                    let parent = uuid_col(row, "terminal_objective_id")?;
                    let objective = objective_from_row(row)?;
                    if let Some(terminal) =
                        terminals.iter_mut().find(|t| t.objective.id == parent)
                    {
                        terminal.enabling_objectives.push(objective);
                    }
                }
                Ok(terminals)
            }

            async fn queue_stats(&self) -> StoreResult<QueueStats> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS queued, MIN(created_at) AS oldest FROM blueprints \
                     WHERE status = 'queued'",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(QueueStats {
                    queued: row.try_get("queued")?,
                    oldest_queued_at: row.try_get("oldest")?,
                })
            }

            async fn create_session(&self, new: &NewSessionRow) -> StoreResult<()> {
                self.write_execute(
                    sqlx::query(
                        "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, \
                         expires_at, client) VALUES ($1, $2, $3, $4, $4, $5, $6)",
                    )
                    .bind(db_id(new.id))
                    .bind(new.token_hash.clone())
                    .bind(db_id(new.user_id))
                    .bind(new.now)
                    .bind(new.expires_at)
                    .bind(new.client.clone()),
                )
                .await?;
                Ok(())
            }

            async fn create_api_token(&self, new: &NewApiToken) -> StoreResult<ApiTokenInfo> {
                let row = self
                    .write_optional(
                        sqlx::query(
                            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, \
                             expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
                             RETURNING id, name, created_at, last_used_at, expires_at",
                        )
                        .bind(db_id(new.id))
                        .bind(db_id(new.user_id))
                        .bind(new.name.clone())
                        .bind(new.token_hash.clone())
                        .bind(new.now)
                        .bind(new.expires_at),
                    )
                    .await?
                    .ok_or(sqlx::Error::RowNotFound)?;
                Ok(api_token_from_row(&row)?)
            }

            async fn list_topics(
                &self,
                owner_id: UserId,
                limit: i64,
                after: Option<Cursor>,
            ) -> StoreResult<Vec<Topic>> {
                // Without a cursor, start after the largest possible key.
                let (after_ms, after_id) = match after {
                    Some(c) => (c.created_at, c.id),
                    None => (i64::MAX, Uuid::max()),
                };
                let rows = sqlx::query(
                    "SELECT id, title, description, source_text, created_at, updated_at \
                     FROM topics WHERE owner_id = $4 AND (created_at, id) < ($1, $2) \
                     ORDER BY created_at DESC, id DESC LIMIT $3",
                )
                .bind(after_ms)
                .bind(db_id(after_id))
                .bind(limit)
                .bind(db_id(owner_id))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(topic_from_row).collect::<Result<_, _>>()?)
            }

            async fn update_topic(
                &self,
                id: TopicId,
                patch: &TopicPatch,
                now: i64,
            ) -> StoreResult<Option<Topic>> {
                // One statement: each column keeps its value unless the patch names it.
                let row = self
                    .write_optional(
                        sqlx::query(
                            "UPDATE topics SET \
                               title = CASE WHEN $1 THEN $2 ELSE title END, \
                               description = CASE WHEN $3 THEN $4 ELSE description END, \
                               source_text = CASE WHEN $5 THEN $6 ELSE source_text END, \
                               updated_at = $7 \
                             WHERE id = $8 \
                             RETURNING id, title, description, source_text, created_at, \
                               updated_at",
                        )
                        .bind(patch.title.is_some())
                        .bind(patch.title.clone())
                        .bind(patch.description.is_some())
                        .bind(patch.description.clone().flatten())
                        .bind(patch.source_text.is_some())
                        .bind(patch.source_text.clone().flatten())
                        .bind(now)
                        .bind(db_id(id)),
                    )
                    .await?;
                Ok(row.as_ref().map(topic_from_row).transpose()?)
            }

            async fn renew_lease(
                &self,
                id: BlueprintId,
                attempt: Attempt,
                now: i64,
                lease_ms: i64,
            ) -> StoreResult<bool> {
                let renewed = self.write_execute(sqlx::query(
                    "UPDATE generation_jobs SET lease_expires_at = $1, heartbeat_at = $2 \
                     WHERE blueprint_id = $3 AND finished_at IS NULL AND worker_id IS NOT NULL \
                       AND EXISTS (SELECT 1 FROM blueprints b WHERE b.id = $3 \
                                   AND b.attempt = $4 AND b.status = 'generating')",
                )
                .bind(now + lease_ms)
                .bind(now)
                .bind(db_id(id))
                .bind(attempt.0)
                )
                .await?;
                Ok(renewed > 0)
            }

            async fn release_lease(&self, id: BlueprintId, attempt: Attempt) -> StoreResult<bool> {
                let released = self.write_execute(sqlx::query(
                    "UPDATE generation_jobs SET worker_id = NULL, lease_expires_at = NULL \
                     WHERE blueprint_id = $1 AND finished_at IS NULL \
                       AND EXISTS (SELECT 1 FROM blueprints b WHERE b.id = $1 \
                                   AND b.attempt = $2 AND b.status = 'generating')",
                )
                .bind(db_id(id))
                .bind(attempt.0)
                )
                .await?;
                Ok(released > 0)
            }

            async fn set_blueprint_summary(
                &self,
                id: BlueprintId,
                attempt: Attempt,
                title: &str,
                description: &str,
                now: i64,
            ) -> StoreResult<Option<Blueprint>> {
                let row = self
                    .write_optional(
                        sqlx::query(concat!(
                            "UPDATE blueprints SET title = $1, description = $2, \
                             version = version + 1, updated_at = $3 \
                             WHERE id = $4 AND attempt = $5 AND status = 'generating'",
                            returning_blueprint!()
                        ))
                        .bind(title.to_string())
                        .bind(description.to_string())
                        .bind(now)
                        .bind(db_id(id))
                        .bind(attempt.0),
                    )
                    .await?;
                Ok(row.as_ref().map(blueprint_from_row).transpose()?)
            }

            async fn append_terminal_objective(
                &self,
                id: BlueprintId,
                attempt: Attempt,
                position: i64,
                draft: &TerminalDraft,
                now: i64,
            ) -> StoreResult<Option<Blueprint>> {
                let mut tx = self.write_tx().await?;
                // The fence: only the current attempt of a generating blueprint may write, and the
                // count it raises gives the position, so a retry cannot store a position twice. On
                // PostgreSQL the row lock this update takes also orders it against a cancel or claim.
                let row = sqlx::query(concat!(
                    "UPDATE blueprints SET terminal_objectives_count = terminal_objectives_count + 1, \
                     enabling_objectives_count = enabling_objectives_count + $1, \
                     version = version + 1, updated_at = $2 \
                     WHERE id = $3 AND attempt = $4 AND status = 'generating' \
                       AND terminal_objectives_count = $5",
                    returning_blueprint!()
                ))
                .bind(draft.enabling.len() as i64)
                .bind(now)
                .bind(db_id(id))
                .bind(attempt.0)
                .bind(position - 1)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let blueprint = blueprint_from_row(&row)?;
                let terminal_id = insert_objective(
                    &mut tx,
                    id,
                    None,
                    blueprint.terminal_objectives_count,
                    &draft.objective,
                )
                .await?;
                for (index, enabling) in draft.enabling.iter().enumerate() {
                    insert_objective(&mut tx, id, Some(terminal_id), index as i64 + 1, enabling).await?;
                }
                tx.commit().await?;
                Ok(Some(blueprint))
            }

            async fn claim_idempotency_key(
                &self,
                scope: &IdempotencyScope,
                fingerprint: &str,
                now: i64,
                expired_before: i64,
                abandoned_before: i64,
            ) -> StoreResult<IdempotencyClaim> {
                self.write_execute(
                    sqlx::query(
                        "DELETE FROM idempotency_requests \
                         WHERE user_id = $1 AND route = $2 AND scope = $3 AND key = $4 \
                           AND (created_at < $5 OR (state = 'in_flight' AND created_at < $6))",
                    )
                    .bind(db_id(scope.user_id))
                    .bind(scope.route)
                    .bind(scope.scope.clone())
                    .bind(scope.key.clone())
                    .bind(expired_before)
                    .bind(abandoned_before),
                )
                .await?;
                // The primary key decides between parallel first requests: one insert wins.
                let inserted = self
                    .write_execute(
                        sqlx::query(
                            "INSERT INTO idempotency_requests \
                             (user_id, route, scope, key, fingerprint, state, created_at) \
                             VALUES ($1, $2, $3, $4, $5, 'in_flight', $6) \
                             ON CONFLICT DO NOTHING",
                        )
                        .bind(db_id(scope.user_id))
                        .bind(scope.route)
                        .bind(scope.scope.clone())
                        .bind(scope.key.clone())
                        .bind(fingerprint.to_string())
                        .bind(now),
                    )
                    .await?;
                if inserted == 1 {
                    return Ok(IdempotencyClaim::Claimed);
                }
                let row = sqlx::query(
                    "SELECT fingerprint, state, status, location, body FROM idempotency_requests \
                     WHERE user_id = $1 AND route = $2 AND scope = $3 AND key = $4",
                )
                .bind(db_id(scope.user_id))
                .bind(scope.route)
                .bind(scope.scope.clone())
                .bind(scope.key.clone())
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else {
                    return Ok(IdempotencyClaim::Released);
                };
                let state: String = row.try_get("state")?;
                let answer = if state == "done" {
                    let status: i64 = row.try_get("status")?;
                    Some(StoredAnswer {
                        status: u16::try_from(status)
                            .map_err(|_| decode_err("stored status", &status.to_string()))?,
                        location: row.try_get("location")?,
                        body: row.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
                    })
                } else {
                    None
                };
                Ok(IdempotencyClaim::Taken(IdempotencyRecord {
                    fingerprint: row.try_get("fingerprint")?,
                    answer,
                }))
            }

            async fn complete_idempotency_key(
                &self,
                scope: &IdempotencyScope,
                answer: &StoredAnswer,
            ) -> StoreResult<()> {
                self.write_execute(
                    sqlx::query(
                        "UPDATE idempotency_requests \
                         SET state = 'done', status = $5, location = $6, body = $7 \
                         WHERE user_id = $1 AND route = $2 AND scope = $3 AND key = $4 \
                           AND state = 'in_flight'",
                    )
                    .bind(db_id(scope.user_id))
                    .bind(scope.route)
                    .bind(scope.scope.clone())
                    .bind(scope.key.clone())
                    .bind(i64::from(answer.status))
                    .bind(answer.location.clone())
                    .bind(answer.body.clone()),
                )
                .await?;
                Ok(())
            }

            async fn release_idempotency_key(&self, scope: &IdempotencyScope) -> StoreResult<()> {
                self.write_execute(
                    sqlx::query(
                        "DELETE FROM idempotency_requests \
                         WHERE user_id = $1 AND route = $2 AND scope = $3 AND key = $4 \
                           AND state = 'in_flight'",
                    )
                    .bind(db_id(scope.user_id))
                    .bind(scope.route)
                    .bind(scope.scope.clone())
                    .bind(scope.key.clone()),
                )
                .await?;
                Ok(())
            }

            async fn delete_other_sessions(
                &self,
                user_id: UserId,
                keep: Option<SessionId>,
            ) -> StoreResult<u64> {
                // With nothing to keep (NULL), every session ends.
                let deleted = self.write_execute(sqlx::query(
                    "DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2",
                )
                .bind(db_id(user_id))
                .bind(keep.map(db_id))
                )
                .await?;
                Ok(deleted)
            }

            async fn release_throttle_events(&self, keys: &[String], at: i64) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                for key in keys {
                    sqlx::query(DELETE_ONE_THROTTLE_EVENT)
                        .bind(key.clone())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn create_topic(
                &self,
                owner_id: UserId,
                id: TopicId,
                input: &TopicInput,
                now: i64,
            ) -> StoreResult<Topic> {
                let row = self
                    .write_optional(
                        sqlx::query(
                            "INSERT INTO topics (id, owner_id, title, description, source_text, \
                             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                             RETURNING id, title, description, source_text, created_at, updated_at",
                        )
                        .bind(db_id(id))
                        .bind(db_id(owner_id))
                        .bind(input.title.clone())
                        .bind(input.description.clone())
                        .bind(input.source_text.clone())
                        .bind(now),
                    )
                    .await?
                    .ok_or(sqlx::Error::RowNotFound)?;
                Ok(topic_from_row(&row)?)
            }

            async fn delete_topic(
                &self,
                id: TopicId,
                now: i64,
            ) -> StoreResult<Option<Vec<Blueprint>>> {
                let mut tx = self.write_tx().await?;
                let rows = sqlx::query(concat!(cancel_active_of_topic!(), returning_blueprint!()))
                    .bind(CANCELLED_MESSAGE)
                    .bind(now)
                    .bind(db_id(id))
                    .fetch_all(&mut *tx)
                    .await?;
                let cancelled = end_jobs(&mut tx, &rows, now).await?;
                let deleted = sqlx::query("DELETE FROM topics WHERE id = $1")
                    .bind(db_id(id))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok((deleted > 0).then_some(cancelled))
            }

            async fn list_blueprints(
                &self,
                topic_id: TopicId,
                status: Option<BlueprintStatus>,
                limit: i64,
                after: Option<Cursor>,
            ) -> StoreResult<Option<Vec<Blueprint>>> {
                if self.get_topic(topic_id).await?.is_none() {
                    return Ok(None);
                }
                // Without a cursor, start after the largest possible key.
                let (after_ms, after_id) = match after {
                    Some(c) => (c.created_at, c.id),
                    None => (i64::MAX, Uuid::max()),
                };
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    blueprint_columns!(),
                    " FROM blueprints b \
                     WHERE b.topic_id = $1 AND (CAST($2 AS TEXT) IS NULL OR b.status = $2) \
                       AND (b.created_at, b.id) < ($3, $4) \
                     ORDER BY b.created_at DESC, b.id DESC LIMIT $5"
                ))
                .bind(db_id(topic_id))
                .bind(status.map(|s| s.as_str()))
                .bind(after_ms)
                .bind(db_id(after_id))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(Some(
                    rows.iter()
                        .map(blueprint_from_row)
                        .collect::<Result<_, _>>()?,
                ))
            }

            async fn delete_blueprint(
                &self,
                topic_id: TopicId,
                id: BlueprintId,
            ) -> StoreResult<DeleteOutcome> {
                let deleted = self
                    .write_execute(
                        sqlx::query(concat!(
                            "DELETE FROM blueprints \
                             WHERE id = $1 AND topic_id = $2 AND status NOT IN ",
                            active_statuses!()
                        ))
                        .bind(db_id(id))
                        .bind(db_id(topic_id)),
                    )
                    .await?;
                if deleted > 0 {
                    return Ok(DeleteOutcome::Deleted);
                }
                Ok(match self.get_blueprint(topic_id, id).await? {
                    BlueprintLookup::TopicNotFound => DeleteOutcome::TopicNotFound,
                    BlueprintLookup::BlueprintNotFound => DeleteOutcome::BlueprintNotFound,
                    BlueprintLookup::Found(_) => DeleteOutcome::Active,
                })
            }

            async fn cancel_generation(
                &self,
                topic_id: TopicId,
                id: BlueprintId,
                now: i64,
            ) -> StoreResult<CancelOutcome> {
                let cancelled = self
                    .end_generations(
                        sqlx::query(concat!(
                            cancel_active_of_topic!(),
                            " AND id = $4",
                            returning_blueprint!()
                        ))
                        .bind(CANCELLED_MESSAGE)
                        .bind(now)
                        .bind(db_id(topic_id))
                        .bind(db_id(id)),
                        now,
                    )
                    .await?;
                if let Some(blueprint) = cancelled.into_iter().next() {
                    return Ok(CancelOutcome::Cancelled(blueprint));
                }
                Ok(match self.get_blueprint(topic_id, id).await? {
                    BlueprintLookup::TopicNotFound => CancelOutcome::TopicNotFound,
                    BlueprintLookup::BlueprintNotFound => CancelOutcome::BlueprintNotFound,
                    BlueprintLookup::Found(blueprint) => CancelOutcome::AlreadyTerminal(blueprint),
                })
            }

            async fn list_jobs(
                &self,
                owner_id: Option<UserId>,
                ended_since: i64,
                limit: i64,
            ) -> StoreResult<Vec<JobListing>> {
                let rows = sqlx::query(concat!(
                    "SELECT t.title AS topic_title, t.owner_id, u.email AS owner_email, ",
                    blueprint_columns!(),
                    " FROM blueprints b JOIN topics t ON t.id = b.topic_id \
                     JOIN users u ON u.id = t.owner_id \
                     WHERE ($3 IS NULL OR t.owner_id = $3) \
                       AND (b.status IN ",
                    active_statuses!(),
                    " OR b.finished_at >= $1) \
                     ORDER BY b.created_at DESC, b.id DESC LIMIT $2"
                ))
                .bind(ended_since)
                .bind(limit)
                .bind(owner_id.map(db_id))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(|row| {
                        Ok(JobListing {
                            blueprint: blueprint_from_row(row)?,
                            topic_title: row.try_get("topic_title")?,
                            owner_id: UserId(uuid_col(row, "owner_id")?),
                            owner_email: row.try_get("owner_email")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?)
            }

            async fn claim_next_job(
                &self,
                worker_id: &str,
                now: i64,
                lease_ms: i64,
                max_attempts: i64,
            ) -> StoreResult<Option<ClaimedJob>> {
                let mut tx = self.write_tx().await?;
                // The driver's statement picks the oldest claimable job and makes it this
                // transaction's (see `CLAIM_CANDIDATE`).
                let candidate = sqlx::query(CLAIM_CANDIDATE)
                    .bind(now)
                    .bind(max_attempts)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(candidate) = candidate else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let blueprint_id = uuid_col(&candidate, "blueprint_id")?;
                let previous_worker: Option<String> = candidate.try_get("worker_id")?;
                let attempt: i64 = candidate.try_get("attempt")?;
                let row = sqlx::query(concat!(
                    "UPDATE blueprints SET status = 'generating', attempt = attempt + 1, \
                     generation_started_at = COALESCE(generation_started_at, $1), \
                     version = version + 1, updated_at = $1 \
                     WHERE id = $2 AND attempt = $3 AND status IN ",
                    active_statuses!(),
                    returning_blueprint!()
                ))
                .bind(now)
                .bind(db_id(blueprint_id))
                .bind(attempt)
                .fetch_optional(&mut *tx)
                .await?;
                // Cancelled or timed out between the select and the update (where transactions
                // run in parallel): nothing to claim now.
                let Some(row) = row else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let blueprint = blueprint_from_row(&row)?;
                sqlx::query(
                    "UPDATE generation_jobs \
                     SET worker_id = $1, lease_expires_at = $2, heartbeat_at = $3 \
                     WHERE blueprint_id = $4",
                )
                .bind(worker_id.to_string())
                .bind(now + lease_ms)
                .bind(now)
                .bind(db_id(blueprint_id))
                .execute(&mut *tx)
                .await?;
                let topic_row = sqlx::query(
                    "SELECT id, title, description, source_text, created_at, updated_at \
                     FROM topics WHERE id = $1",
                )
                .bind(db_id(blueprint.topic_id))
                .fetch_one(&mut *tx)
                .await?;
                let topic = topic_from_row(&topic_row)?;
                tx.commit().await?;
                Ok(Some(ClaimedJob {
                    blueprint,
                    topic,
                    rescued: previous_worker.is_some(),
                }))
            }

            async fn finish_generation(
                &self,
                id: BlueprintId,
                attempt: Attempt,
                finish: &Finish,
                now: i64,
            ) -> StoreResult<Option<Blueprint>> {
                let values = finish.values()?;
                let ended = self
                    .end_generations(
                        sqlx::query(concat!(
                            "UPDATE blueprints SET status = $1, error_code = $2, error = $3, \
                             finished_at = $4, quality_score = $5, quality_json = $6, \
                             version = version + 1, updated_at = $4 \
                             WHERE id = $7 AND attempt = $8 AND status = 'generating'",
                            returning_blueprint!()
                        ))
                        .bind(values.status)
                        .bind(values.error_code)
                        .bind(values.error)
                        .bind(now)
                        .bind(values.quality_score)
                        .bind(values.quality_json)
                        .bind(db_id(id))
                        .bind(attempt.0),
                        now,
                    )
                    .await?;
                Ok(ended.into_iter().next())
            }

            async fn time_out_generations(
                &self,
                started_before: i64,
                now: i64,
            ) -> StoreResult<Vec<Blueprint>> {
                // A queued generation counts from its creation, so none waits forever either.
                self.end_generations(
                    sqlx::query(concat!(
                        "UPDATE blueprints SET status = 'error', error_code = 'timeout', \
                         error = $1, finished_at = $2, version = version + 1, updated_at = $2 \
                         WHERE COALESCE(generation_started_at, created_at) < $3 AND status IN ",
                        active_statuses!(),
                        returning_blueprint!()
                    ))
                    .bind(TIMEOUT_MESSAGE)
                    .bind(now)
                    .bind(started_before),
                    now,
                )
                .await
            }

            async fn fail_lost_jobs(
                &self,
                now: i64,
                max_attempts: i64,
            ) -> StoreResult<Vec<Blueprint>> {
                self.end_generations(
                    sqlx::query(concat!(
                        "UPDATE blueprints SET status = 'error', error_code = 'worker_lost', \
                         error = $1, finished_at = $2, version = version + 1, updated_at = $2 \
                         WHERE status = 'generating' AND attempt >= $3 AND id IN ( \
                           SELECT blueprint_id FROM generation_jobs \
                           WHERE finished_at IS NULL AND worker_id IS NOT NULL \
                             AND lease_expires_at < $2)",
                        returning_blueprint!()
                    ))
                    .bind(WORKER_LOST_MESSAGE)
                    .bind(now)
                    .bind(max_attempts),
                    now,
                )
                .await
            }

            async fn purge_history(
                &self,
                finished_before: i64,
                keys_before: i64,
            ) -> StoreResult<u64> {
                // Plain conditional deletes: running them in several processes at once is
                // harmless.
                let mut purged = 0;
                for (statement, before) in [
                    (
                        "DELETE FROM generation_jobs \
                         WHERE finished_at IS NOT NULL AND finished_at < $1",
                        finished_before,
                    ),
                    ("DELETE FROM idempotency_requests WHERE created_at < $1", keys_before),
                    ("DELETE FROM sessions WHERE expires_at < $1", keys_before),
                    ("DELETE FROM generation_starts WHERE started_at < $1", keys_before),
                    ("DELETE FROM throttle_events WHERE at < $1", keys_before),
                ] {
                    purged += self.write_execute(sqlx::query(statement)
                        .bind(before)
                        )
                        .await?;
                }
                Ok(purged)
            }
        }
    };
}
