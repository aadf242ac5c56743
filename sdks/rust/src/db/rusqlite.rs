//! rusqlite (feature `rusqlite`): [`Connection`] wraps a `rusqlite::Connection` once, and every
//! statement run through it (`execute`, `execute_batch`, `query_row`, prepared statements,
//! transactions and savepoints) is recorded as a `db_query` event in the current context.
//! Results and errors are rusqlite's, unchanged.
//!
//! ```no_run
//! # fn demo() -> rusqlite::Result<()> {
//! use raceway_client::db::rusqlite::Connection;
//! let db = Connection::open("shop.db")?;
//! let stock: i64 = db.query_row("SELECT stock FROM products WHERE id = ?1", [7], |row| row.get(0))?;
//! db.execute("UPDATE products SET stock = ?1 WHERE id = ?2", (stock - 1, 7))?;
//! # Ok(()) }
//! ```

use std::cell::Cell;
use std::ops::Deref;
use std::path::Path;

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Row, ToSql, TransactionBehavior};
use serde_json::Value;

use super::capture::{DbSystem, QueryCapture, QueryError, QueryInFlight, Returned};
use super::connection_id::new_connection_id;
use super::savepoint::SavepointSql;
use crate::digest::DigestValue;

impl DigestValue for ValueRef<'_> {
    fn write_canonical(&self, out: &mut String) {
        match *self {
            ValueRef::Null => out.push('n'),
            ValueRef::Integer(i) => i.write_canonical(out),
            ValueRef::Real(f) => f.write_canonical(out),
            ValueRef::Text(t) => String::from_utf8_lossy(t).write_canonical(out),
            ValueRef::Blob(b) => b.write_canonical(out),
        }
    }
    fn raw_value(&self) -> Value {
        match *self {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => i.raw_value(),
            ValueRef::Real(f) => f.raw_value(),
            ValueRef::Text(t) => String::from_utf8_lossy(t).raw_value(),
            ValueRef::Blob(b) => b.raw_value(),
        }
    }
}

impl DigestValue for SqlValue {
    fn write_canonical(&self, out: &mut String) {
        ValueRef::from(self).write_canonical(out)
    }
    fn raw_value(&self) -> Value {
        ValueRef::from(self).raw_value()
    }
}

/// What SQLite receives for a parameter: digested as the value the driver binds.
fn bound<T: ToSql + ?Sized>(value: &T, f: impl FnOnce(&dyn DigestValue)) {
    match value.to_sql() {
        Ok(ToSqlOutput::Borrowed(v)) => f(&v),
        Ok(ToSqlOutput::Owned(v)) => f(&v),
        // A value that cannot be bound fails the statement; its digest is null's.
        _ => f(&None::<i64>),
    }
}

/// Parameters rusqlite takes whose values Raceway can digest: `()`, arrays (`[1, 2]`,
/// `&[&a, &b]`), tuples of up to 8 values, `params![...]` and `named_params!{...}`.
pub trait Params: rusqlite::Params {
    /// Digests each value into `capture`, positional then named.
    fn digest_into(&self, capture: &mut QueryCapture);
}

impl Params for () {
    fn digest_into(&self, _: &mut QueryCapture) {}
}

impl Params for &[&dyn ToSql] {
    fn digest_into(&self, capture: &mut QueryCapture) {
        for value in self.iter() {
            bound(*value, |v| capture.param(v));
        }
    }
}

impl Params for &[(&str, &dyn ToSql)] {
    fn digest_into(&self, capture: &mut QueryCapture) {
        for (name, value) in self.iter() {
            bound(*value, |v| capture.named_param(name, v));
        }
    }
}

impl<T: ToSql, const N: usize> Params for [T; N]
where
    [T; N]: rusqlite::Params,
{
    fn digest_into(&self, capture: &mut QueryCapture) {
        for value in self {
            bound(value, |v| capture.param(v));
        }
    }
}

impl<T: ToSql + ?Sized, const N: usize> Params for &[&T; N]
where
    Self: rusqlite::Params,
{
    fn digest_into(&self, capture: &mut QueryCapture) {
        for value in self.iter() {
            bound(*value, |v| capture.param(v));
        }
    }
}

macro_rules! tuple_params {
    ($(($($field:tt $t:ident),+))+) => {$(
        impl<$($t: ToSql),+> Params for ($($t,)+) {
            fn digest_into(&self, capture: &mut QueryCapture) {
                $(bound(&self.$field, |v| capture.param(v));)+
            }
        }
    )+};
}
tuple_params! {
    (0 A)
    (0 A, 1 B)
    (0 A, 1 B, 2 C)
    (0 A, 1 B, 2 C, 3 D)
    (0 A, 1 B, 2 C, 3 D, 4 E)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H)
}

/// The error as a `db_query` event carries it: SQLite's extended code name
/// (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_PRIMARYKEY`...) when there is one, else the variant.
fn query_error(error: &rusqlite::Error) -> QueryError {
    let code = match error {
        rusqlite::Error::SqlInputError { error, .. } => Some(error.code),
        other => other.sqlite_error_code(),
    };
    let kind = match code {
        Some(code) => sqlite_code_name(code).to_owned(),
        None => format!("{error:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("Error")
            .to_owned(),
    };
    QueryError {
        kind,
        message: error.to_string(),
    }
}

fn sqlite_code_name(code: rusqlite::ErrorCode) -> &'static str {
    use rusqlite::ErrorCode::*;
    match code {
        DatabaseBusy => "SQLITE_BUSY",
        DatabaseLocked => "SQLITE_LOCKED",
        ConstraintViolation => "SQLITE_CONSTRAINT",
        ReadOnly => "SQLITE_READONLY",
        NotFound => "SQLITE_NOTFOUND",
        TypeMismatch => "SQLITE_MISMATCH",
        ApiMisuse => "SQLITE_MISUSE",
        DiskFull => "SQLITE_FULL",
        OperationAborted => "SQLITE_ABORT",
        OperationInterrupted => "SQLITE_INTERRUPT",
        _ => "SQLITE_ERROR",
    }
}

/// The digests of one row, every column by its name.
fn digest_row(returned: &mut Returned, row: &Row<'_>) {
    let statement: &rusqlite::Statement<'_> = row.as_ref();
    let values: Vec<(&str, ValueRef<'_>)> = (0..statement.column_count())
        .filter_map(|i| Some((statement.column_name(i).ok()?, row.get_ref(i).ok()?)))
        .collect();
    returned.push_row(values.iter().map(|(n, v)| (*n, v as &dyn DigestValue)));
}

/// A rusqlite connection whose statements are recorded. Derefs to the `rusqlite::Connection`
/// for what it does not wrap (what runs through the inner connection directly is not
/// recorded).
pub struct Connection {
    conn: rusqlite::Connection,
    id: String,
    savepoints: Cell<usize>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("id", &self.id).finish()
    }
}

impl From<rusqlite::Connection> for Connection {
    fn from(conn: rusqlite::Connection) -> Self {
        Connection::new(conn)
    }
}

impl Deref for Connection {
    type Target = rusqlite::Connection;
    fn deref(&self) -> &rusqlite::Connection {
        &self.conn
    }
}

impl Connection {
    /// Wraps a connection; it gets its id (`rusqlite#N`) for its life.
    pub fn new(conn: rusqlite::Connection) -> Self {
        Connection {
            conn,
            id: new_connection_id("rusqlite"),
            savepoints: Cell::new(0),
        }
    }

    /// Opens a database file (`rusqlite::Connection::open`) and wraps it.
    pub fn open(path: impl AsRef<Path>) -> rusqlite::Result<Self> {
        rusqlite::Connection::open(path).map(Self::new)
    }

    /// An in-memory database, wrapped.
    pub fn open_in_memory() -> rusqlite::Result<Self> {
        rusqlite::Connection::open_in_memory().map(Self::new)
    }

    /// The connection id its events carry.
    pub fn connection_id(&self) -> &str {
        &self.id
    }

    /// The wrapped connection.
    pub fn into_inner(self) -> rusqlite::Connection {
        self.conn
    }

    fn start(&self, sql: &str, digest: impl FnOnce(&mut QueryCapture)) -> Option<QueryInFlight> {
        let mut capture = QueryCapture::current()?;
        digest(&mut capture);
        let database = self.conn.path().filter(|p| !p.is_empty());
        Some(
            capture
                .start(DbSystem::Sqlite, sql, &self.id)
                .database(database),
        )
    }

    /// `rusqlite::Connection::execute`, recorded with the rows changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        let query = self.start(sql, |c| params.digest_into(c));
        let result = self.conn.execute(sql, params);
        if let Some(query) = query {
            match &result {
                Ok(changed) => query.end_rows(Some(*changed as u64)),
                Err(error) => query.end(None, None, Some(query_error(error))),
            }
        }
        result
    }

    /// `rusqlite::Connection::execute_batch`: the batch is one event (no parameters).
    pub fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        let query = self.start(sql, |_| {});
        let result = self.conn.execute_batch(sql);
        if let Some(query) = query {
            match &result {
                Ok(()) => query.end_rows(None),
                Err(error) => query.end(None, None, Some(query_error(error))),
            }
        }
        result
    }

    /// `rusqlite::Connection::query_row`, recorded with the digests of the row it returned.
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        let mut statement = self.prepare(sql)?;
        statement.query_row(params, f)
    }

    /// `rusqlite::Connection::prepare`: the statement's runs are recorded.
    pub fn prepare(&self, sql: &str) -> rusqlite::Result<Statement<'_>> {
        match self.conn.prepare(sql) {
            Ok(statement) => Ok(Statement {
                statement,
                conn: self,
                sql: sql.to_owned(),
            }),
            Err(error) => {
                // A statement that does not prepare is a failed query too.
                if let Some(query) = self.start(sql, |_| {}) {
                    query.end(None, None, Some(query_error(&error)));
                }
                Err(error)
            }
        }
    }

    /// `rusqlite::Connection::transaction`: `BEGIN DEFERRED`, recorded, as every statement of
    /// the transaction and its `COMMIT` or `ROLLBACK` (also the one of a transaction dropped
    /// without either).
    pub fn transaction(&mut self) -> rusqlite::Result<Transaction<'_>> {
        self.transaction_with_behavior(TransactionBehavior::Deferred)
    }

    /// A transaction begun as `behavior` says: `BEGIN DEFERRED`, `BEGIN IMMEDIATE` (SQLite's
    /// write lock up front) or `BEGIN EXCLUSIVE`.
    pub fn transaction_with_behavior(
        &mut self,
        behavior: TransactionBehavior,
    ) -> rusqlite::Result<Transaction<'_>> {
        let begin = match behavior {
            TransactionBehavior::Immediate => "BEGIN IMMEDIATE",
            TransactionBehavior::Exclusive => "BEGIN EXCLUSIVE",
            _ => "BEGIN DEFERRED",
        };
        self.execute_batch(begin)?;
        Ok(Transaction {
            conn: self,
            open: true,
        })
    }

    /// A savepoint (`SAVEPOINT sp<N>`, `N` its depth): `commit` releases it, `rollback` rolls
    /// back to it, a drop does both.
    pub fn savepoint(&mut self) -> rusqlite::Result<Savepoint<'_>> {
        Savepoint::begin(self)
    }
}

/// A prepared statement of a traced [`Connection`]; each run is one event.
pub struct Statement<'conn> {
    statement: rusqlite::Statement<'conn>,
    conn: &'conn Connection,
    sql: String,
}

impl<'conn> Statement<'conn> {
    /// `rusqlite::Statement::execute`.
    pub fn execute<P: Params>(&mut self, params: P) -> rusqlite::Result<usize> {
        let query = self.conn.start(&self.sql, |c| params.digest_into(c));
        let result = self.statement.execute(params);
        if let Some(query) = query {
            match &result {
                Ok(changed) => query.end_rows(Some(*changed as u64)),
                Err(error) => query.end(None, None, Some(query_error(error))),
            }
        }
        result
    }

    /// `rusqlite::Statement::query_row`, with the digests of the row returned.
    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        let query = self.conn.start(&self.sql, |c| params.digest_into(c));
        let mut returned = query.as_ref().map(QueryInFlight::returned);
        let mut seen = 0_u64;
        let result = self.statement.query_row(params, |row| {
            seen = 1;
            if let Some(returned) = returned.as_mut() {
                digest_row(returned, row);
            }
            f(row)
        });
        if let Some(query) = query {
            let error = match &result {
                Err(rusqlite::Error::QueryReturnedNoRows) | Ok(_) => None,
                Err(error) => Some(query_error(error)),
            };
            query.end(Some(seen), returned, error);
        }
        result
    }

    /// `rusqlite::Statement::query_map`, collected: the rows mapped by `f`, recorded with the
    /// number of rows and the digests of the first ones.
    pub fn query_map<T, P, F>(&mut self, params: P, mut f: F) -> rusqlite::Result<Vec<T>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        let query = self.conn.start(&self.sql, |c| params.digest_into(c));
        let mut returned = query.as_ref().map(QueryInFlight::returned);
        let mut seen = 0_u64;
        let result = (|| {
            let mut rows = self.statement.query(params)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                seen += 1;
                if let Some(returned) = returned.as_mut() {
                    digest_row(returned, row);
                }
                out.push(f(row)?);
            }
            Ok(out)
        })();
        if let Some(query) = query {
            let error = result.as_ref().err().map(query_error);
            query.end(Some(seen), returned, error);
        }
        result
    }

    /// The wrapped statement, for what is not wrapped here (its runs are not recorded).
    pub fn inner(&mut self) -> &mut rusqlite::Statement<'conn> {
        &mut self.statement
    }
}

/// A transaction of a traced [`Connection`]: derefs to it, so statements run as on the
/// connection; ends with [`Transaction::commit`] or [`Transaction::rollback`], or is rolled
/// back when dropped (as rusqlite's).
pub struct Transaction<'conn> {
    conn: &'conn mut Connection,
    open: bool,
}

impl Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Transaction<'_> {
    /// `COMMIT`, recorded.
    pub fn commit(mut self) -> rusqlite::Result<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT")
    }

    /// `ROLLBACK`, recorded.
    pub fn rollback(mut self) -> rusqlite::Result<()> {
        self.open = false;
        self.conn.execute_batch("ROLLBACK")
    }

    /// A savepoint inside the transaction.
    pub fn savepoint(&mut self) -> rusqlite::Result<Savepoint<'_>> {
        Savepoint::begin(self.conn)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        // A statement of the application may have ended the transaction already.
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A savepoint of a traced [`Connection`] (`SAVEPOINT sp<N>`); derefs to the connection.
pub struct Savepoint<'conn> {
    conn: &'conn mut Connection,
    sql: SavepointSql,
    open: bool,
}

impl<'conn> Savepoint<'conn> {
    fn begin(conn: &'conn mut Connection) -> rusqlite::Result<Self> {
        let depth = conn.savepoints.get() + 1;
        let sql = SavepointSql::new("sp", depth);
        conn.execute_batch(&sql.begin())?;
        conn.savepoints.set(depth);
        Ok(Savepoint {
            conn,
            sql,
            open: true,
        })
    }

    /// `RELEASE SAVEPOINT sp<N>`: its changes become the enclosing transaction's.
    pub fn commit(mut self) -> rusqlite::Result<()> {
        self.open = false;
        self.conn.execute_batch(&self.sql.release())
    }

    /// `ROLLBACK TO SAVEPOINT sp<N>`: its changes are undone; the savepoint stays open.
    pub fn rollback(&mut self) -> rusqlite::Result<()> {
        self.conn.execute_batch(&self.sql.rollback_to())
    }

    /// A savepoint inside this one.
    pub fn savepoint(&mut self) -> rusqlite::Result<Savepoint<'_>> {
        Savepoint::begin(self.conn)
    }
}

impl Deref for Savepoint<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self.rollback();
            let _ = self.conn.execute_batch(&self.sql.release());
        }
        self.conn
            .savepoints
            .set(self.conn.savepoints.get().saturating_sub(1));
    }
}
