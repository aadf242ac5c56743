//! The database the services use, on PostgreSQL or SQLite through sqlx. The pools are wrapped
//! once with Raceway's (`raceway_client::db::sqlx::Pool`): every statement below is recorded
//! with no tracking call.

use std::str::FromStr;
use std::time::Duration;

use raceway_client::db::sqlx::{query, PgPool, SqlitePool, Transaction};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Postgres, Row as _, Sqlite};

#[derive(Clone)]
pub enum Db {
    Pg(PgPool),
    Sqlite(SqlitePool),
}

pub enum Tx {
    Pg(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

/// Test-only: RACE_PAUSE_MS holds the service that long after every SELECT, so that two
/// concurrent read-modify-writes both read before either writes. It lives here, in the
/// adapter, so that `stock.rs` stays the docs' code. Unset in a real deployment.
async fn after_query(sql: &str) {
    let pause: u64 = std::env::var("RACE_PAUSE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0);
    if pause > 0 && sql.trim_start().to_ascii_uppercase().starts_with("SELECT") {
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// SQLite's placeholders are `?`: the statements, written with `$1, $2...` in order, are sent
/// with `?` (the SQL recorded is SQLite's).
fn sqlite_text(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// The integer columns of the first row, in order (`None`: no row).
macro_rules! first_row {
    ($executor:expr, $sql:expr, $params:expr) => {{
        let sql: &str = $sql;
        let mut statement = query(sql);
        for param in $params {
            statement = statement.bind(*param);
        }
        let row = statement.fetch_optional($executor).await?;
        row.map(|row| {
            (0..row.len())
                .map(|i| row.try_get::<i32, _>(i))
                .collect::<Result<Vec<i32>, _>>()
        })
        .transpose()?
    }};
}

macro_rules! execute {
    ($executor:expr, $sql:expr, $params:expr) => {{
        let sql: &str = $sql;
        let mut statement = query(sql);
        for param in $params {
            statement = statement.bind(*param);
        }
        statement.execute($executor).await?.rows_affected()
    }};
}

impl Db {
    /// `DATABASE` is a postgres:// URL or `sqlite:<file>`.
    pub async fn open(url: &str) -> Result<Db, sqlx::Error> {
        match url.strip_prefix("sqlite:") {
            Some(file) => {
                // One connection per service process; a busy database is waited for up to 5 s.
                let options = SqliteConnectOptions::from_str("sqlite:")?
                    .filename(file)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?;
                Ok(Db::Sqlite(SqlitePool::new(pool)))
            }
            None => {
                let pool = PgPoolOptions::new().max_connections(4).connect(url).await?;
                Ok(Db::Pg(PgPool::new(pool)))
            }
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Db::Sqlite(_))
    }

    /// The integer columns of the first row the statement returns.
    pub async fn row(&self, sql: &str, params: &[i32]) -> Result<Option<Vec<i32>>, sqlx::Error> {
        let row = match self {
            Db::Pg(pool) => first_row!(pool, sql, params),
            Db::Sqlite(pool) => {
                let sql = sqlite_text(sql);
                first_row!(pool, &sql, params)
            }
        };
        after_query(sql).await;
        Ok(row)
    }

    /// Runs a statement: the rows it changed.
    pub async fn execute(&self, sql: &str, params: &[i32]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Db::Pg(pool) => execute!(pool, sql, params),
            Db::Sqlite(pool) => {
                let sql = sqlite_text(sql);
                execute!(pool, &sql, params)
            }
        })
    }

    /// A transaction on one connection, begun with `statement` (`BEGIN` when `None`).
    pub async fn begin(&self, statement: Option<&'static str>) -> Result<Tx, sqlx::Error> {
        Ok(match (self, statement) {
            (Db::Pg(pool), Some(s)) => Tx::Pg(pool.begin_with(s).await?),
            (Db::Pg(pool), None) => Tx::Pg(pool.begin().await?),
            (Db::Sqlite(pool), Some(s)) => Tx::Sqlite(pool.begin_with(s).await?),
            (Db::Sqlite(pool), None) => Tx::Sqlite(pool.begin().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Pg(pool) => pool.inner().close().await,
            Db::Sqlite(pool) => pool.inner().close().await,
        }
    }
}

impl Tx {
    pub async fn row(
        &mut self,
        sql: &str,
        params: &[i32],
    ) -> Result<Option<Vec<i32>>, sqlx::Error> {
        let row = match self {
            Tx::Pg(tx) => first_row!(&mut *tx, sql, params),
            Tx::Sqlite(tx) => {
                let sql = sqlite_text(sql);
                first_row!(&mut *tx, &sql, params)
            }
        };
        after_query(sql).await;
        Ok(row)
    }

    pub async fn execute(&mut self, sql: &str, params: &[i32]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Tx::Pg(tx) => execute!(&mut *tx, sql, params),
            Tx::Sqlite(tx) => {
                let sql = sqlite_text(sql);
                execute!(&mut *tx, &sql, params)
            }
        })
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => tx.rollback().await,
            Tx::Sqlite(tx) => tx.rollback().await,
        }
    }
}

/// True when the database refused a transaction that can be retried: PostgreSQL's
/// serialization failure (SQLSTATE 40001) or SQLite's busy database.
pub fn is_retryable(error: &sqlx::Error) -> bool {
    let Some(code) = error.as_database_error().and_then(|e| e.code()) else {
        return false;
    };
    code == "40001" || code.parse::<i32>().is_ok_and(|c| c & 0xff == 5)
}
