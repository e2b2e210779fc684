//! The SQL of `quizmaster copy-data`: reading a table in batches keyed by its primary key and
//! writing batches that skip rows already there, on SQLite and on PostgreSQL. The order of the
//! tables, what is copied and how active jobs are re-queued are decided by the caller
//! (`cli::copy_data`); this module only moves rows.
//!
//! Rows travel as [`Cell`]s: text or a 64-bit integer. The dialect differences are in the SQL
//! text only: PostgreSQL keeps ids as `UUID` and flags as `BOOLEAN`, SQLite as text and 0/1,
//! so PostgreSQL reads them cast to text and integer and writes them cast back.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row as _;

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// `UUID` on PostgreSQL, text on SQLite.
    Uuid,
    Int,
    /// `BOOLEAN` on PostgreSQL, 0/1 on SQLite.
    Bool,
}

/// A table as `copy-data` sees it. The first column is the primary key, which orders the
/// batches.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
}

impl Table {
    pub fn key(&self) -> (&'static str, Kind) {
        self.columns[0]
    }

    /// The index of a column; panics on a name the table does not have (a programming error).
    pub fn column(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|(column, _)| *column == name)
            .unwrap_or_else(|| panic!("{} has no column {name}", self.name))
    }
}

/// One value: every column of the schema is text or an integer (ids and flags included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
}

pub type Row = Vec<Cell>;

/// An open database to copy from or to.
pub enum CopyDatabase {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl CopyDatabase {
    /// Opens a database whose schema is already up to date (`Store::migrate`). A SQLite file
    /// must exist: the caller created and migrated it.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("Failed to parse the SQLite URL")?
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .context("Failed to open the SQLite database")?;
            Ok(Self::Sqlite(pool))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .context("Failed to connect to PostgreSQL")?;
            Ok(Self::Postgres(pool))
        }
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }

    /// Every table of the schema (migration bookkeeping left out), sorted.
    pub async fn table_names(&self) -> anyhow::Result<Vec<String>> {
        let names: Vec<String> = match self {
            Self::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
                )
                .fetch_all(pool)
                .await?
            }
            Self::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                     AND table_name <> '_sqlx_migrations' ORDER BY table_name",
                )
                .fetch_all(pool)
                .await?
            }
        };
        Ok(names)
    }

    /// The columns of one table, sorted.
    pub async fn column_names(&self, table: &str) -> anyhow::Result<Vec<String>> {
        let mut names: Vec<String> = match self {
            Self::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
                    .bind(table)
                    .fetch_all(pool)
                    .await?
            }
            Self::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1",
                )
                .bind(table)
                .fetch_all(pool)
                .await?
            }
        };
        names.sort();
        Ok(names)
    }

    pub async fn count(&self, table: &Table) -> anyhow::Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name);
        let count = match self {
            Self::Sqlite(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await
            }
            Self::Postgres(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await
            }
        };
        count.with_context(|| format!("Failed to count the rows of {}", table.name))
    }

    /// Up to `limit` rows whose key is greater than `after` (all from the start with `None`),
    /// in key order.
    pub async fn read_batch(
        &self,
        table: &Table,
        after: Option<&Cell>,
        limit: i64,
    ) -> anyhow::Result<Vec<Row>> {
        let (key, key_kind) = table.key();
        let rows = match self {
            Self::Sqlite(pool) => {
                let columns: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
                let filter = if after.is_some() {
                    format!("WHERE {key} > ?")
                } else {
                    String::new()
                };
                let sql = format!(
                    "SELECT {} FROM {} {filter} ORDER BY {key} LIMIT ?",
                    columns.join(", "),
                    table.name
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                if let Some(after) = after {
                    query = bind_sqlite(query, key_kind, after);
                }
                let found = query.bind(limit).fetch_all(pool).await?;
                found
                    .iter()
                    .map(|row| read_row(table, |i, kind| sqlite_cell(row, i, kind)))
                    .collect::<Result<Vec<_>, _>>()?
            }
            Self::Postgres(pool) => {
                let columns: Vec<String> = table
                    .columns
                    .iter()
                    .map(|(name, kind)| match kind {
                        Kind::Uuid => format!("{name}::text"),
                        Kind::Bool => format!("{name}::int4::int8"),
                        Kind::Text | Kind::Int => name.to_string(),
                    })
                    .collect();
                let filter = match (after, key_kind) {
                    (None, _) => String::new(),
                    (Some(_), Kind::Uuid) => format!("WHERE {key} > $1::uuid"),
                    (Some(_), _) => format!("WHERE {key} > $1"),
                };
                let limit_param = if after.is_some() { "$2" } else { "$1" };
                let sql = format!(
                    "SELECT {} FROM {} {filter} ORDER BY {key} LIMIT {limit_param}",
                    columns.join(", "),
                    table.name
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                if let Some(after) = after {
                    query = bind_postgres(query, key_kind, after);
                }
                let found = query.bind(limit).fetch_all(pool).await?;
                found
                    .iter()
                    .map(|row| read_row(table, |i, kind| postgres_cell(row, i, kind)))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(rows)
    }

    /// Inserts the rows in one transaction, skipping any that conflict with a row already
    /// there (so a rerun after an interruption continues instead of failing). Returns how many
    /// were inserted.
    pub async fn insert_batch(&self, table: &Table, rows: &[Row]) -> anyhow::Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
        let inserted = match self {
            Self::Sqlite(pool) => {
                let one = format!("({})", vec!["?"; names.len()].join(", "));
                let sql = format!(
                    "INSERT OR IGNORE INTO {} ({}) VALUES {}",
                    table.name,
                    names.join(", "),
                    vec![one; rows.len()].join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for row in rows {
                    for ((_, kind), cell) in table.columns.iter().zip(row) {
                        query = bind_sqlite(query, *kind, cell);
                    }
                }
                query.execute(pool).await?.rows_affected()
            }
            Self::Postgres(pool) => {
                let mut values = Vec::with_capacity(rows.len());
                let mut n = 0;
                for _ in rows {
                    let placeholders: Vec<String> = table
                        .columns
                        .iter()
                        .map(|(_, kind)| {
                            n += 1;
                            match kind {
                                Kind::Uuid => format!("${n}::uuid"),
                                Kind::Bool => format!("(${n}::int8 <> 0)"),
                                Kind::Text | Kind::Int => format!("${n}"),
                            }
                        })
                        .collect();
                    values.push(format!("({})", placeholders.join(", ")));
                }
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES {} ON CONFLICT DO NOTHING",
                    table.name,
                    names.join(", "),
                    values.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for row in rows {
                    for ((_, kind), cell) in table.columns.iter().zip(row) {
                        query = bind_postgres(query, *kind, cell);
                    }
                }
                query.execute(pool).await?.rows_affected()
            }
        };
        Ok(inserted)
    }
}

fn read_row(
    table: &Table,
    mut cell: impl FnMut(usize, Kind) -> Result<Cell, sqlx::Error>,
) -> Result<Row, sqlx::Error> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| cell(i, *kind))
        .collect()
}

fn sqlite_cell(row: &sqlx::sqlite::SqliteRow, i: usize, kind: Kind) -> Result<Cell, sqlx::Error> {
    Ok(match kind {
        Kind::Text | Kind::Uuid => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Cell::Null, Cell::Text),
        Kind::Int | Kind::Bool => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Cell::Null, Cell::Int),
    })
}

fn postgres_cell(row: &sqlx::postgres::PgRow, i: usize, kind: Kind) -> Result<Cell, sqlx::Error> {
    // The SELECT cast ids to text and flags to bigint.
    Ok(match kind {
        Kind::Text | Kind::Uuid => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Cell::Null, Cell::Text),
        Kind::Int | Kind::Bool => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Cell::Null, Cell::Int),
    })
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds a cell with the type of its column, so that a NULL is a typed NULL.
fn bind_sqlite<'q>(query: SqliteQuery<'q>, kind: Kind, cell: &Cell) -> SqliteQuery<'q> {
    match (kind, cell) {
        (Kind::Text | Kind::Uuid, Cell::Text(text)) => query.bind(text.clone()),
        (Kind::Text | Kind::Uuid, _) => query.bind(None::<String>),
        (Kind::Int | Kind::Bool, Cell::Int(value)) => query.bind(*value),
        (Kind::Int | Kind::Bool, _) => query.bind(None::<i64>),
    }
}

fn bind_postgres<'q>(query: PgQuery<'q>, kind: Kind, cell: &Cell) -> PgQuery<'q> {
    match (kind, cell) {
        (Kind::Text | Kind::Uuid, Cell::Text(text)) => query.bind(text.clone()),
        (Kind::Text | Kind::Uuid, _) => query.bind(None::<String>),
        (Kind::Int | Kind::Bool, Cell::Int(value)) => query.bind(*value),
        (Kind::Int | Kind::Bool, _) => query.bind(None::<i64>),
    }
}
