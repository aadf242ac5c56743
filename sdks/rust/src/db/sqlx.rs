//! sqlx 0.8 (features `sqlx-postgres`, `sqlx-sqlite`): [`Pool`] wraps a `sqlx::Pool` once, and
//! the [`query`] / [`query_as`] builders, which mirror sqlx's, record every statement run on
//! it, on one of its connections or in one of its transactions (nested ones, sqlx's
//! savepoints, included) as a `db_query` event.
//!
//! sqlx encodes bound values into its own opaque argument buffer, so the builders digest each
//! value as it is bound (`.bind(v)`: the value must implement [`DigestValue`]), then hand it to
//! sqlx unchanged. Results and errors are sqlx's.
//!
//! ```no_run
//! # #[cfg(feature = "sqlx-postgres")]
//! # async fn demo() -> Result<(), sqlx::Error> {
//! use raceway_client::db::sqlx::{query, query_as, Pool};
//! let pool = Pool::new(sqlx::PgPool::connect("postgres://localhost/shop").await?);
//! let (stock,): (i32,) = query_as("SELECT stock FROM products WHERE id = $1")
//!     .bind(7)
//!     .fetch_one(&pool)
//!     .await?;
//! let mut tx = pool.begin().await?; // BEGIN, on the transaction's connection
//! query("UPDATE products SET stock = $1 WHERE id = $2")
//!     .bind(stock - 1)
//!     .bind(7)
//!     .execute(&mut tx)
//!     .await?;
//! let mut inner = tx.begin().await?; // SAVEPOINT _sqlx_savepoint_1, on the same connection
//! query("DELETE FROM carts WHERE product = $1")
//!     .bind(7)
//!     .execute(&mut inner)
//!     .await?;
//! inner.rollback().await?; // ROLLBACK TO SAVEPOINT _sqlx_savepoint_1: only the DELETE is undone
//! tx.commit().await?; // COMMIT
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Mutex;

use sqlx::pool::PoolConnection;
use sqlx::{Database, Encode, FromRow, Type};

use super::capture::{DbSystem, QueryCapture, QueryError, QueryInFlight, Returned};
use super::connection_id::new_connection_id;
use super::savepoint::SavepointSql;
use crate::digest::DigestValue;

/// A boxed future, as sqlx's own: `Send` whatever the lifetimes it borrows.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

mod sealed {
    pub trait Sealed {}
}

/// A database sqlx drives that Raceway instruments: PostgreSQL (`sqlx-postgres`) and SQLite
/// (`sqlx-sqlite`).
pub trait TracedDatabase: Database + sealed::Sealed
where
    for<'e> &'e mut Self::Connection: sqlx::Executor<'e, Database = Self>,
{
    #[doc(hidden)]
    const SYSTEM: DbSystem;
    #[doc(hidden)]
    const DRIVER: &'static str;
    /// Something that identifies a connection for its life, when the driver has it.
    #[doc(hidden)]
    fn connection_key(conn: &mut Self::Connection) -> BoxFuture<'_, Option<usize>>;
    #[doc(hidden)]
    fn rows_affected(result: &Self::QueryResult) -> u64;
    #[doc(hidden)]
    fn digest_row(row: &Self::Row, returned: &mut Returned);
    /// The error type a `db_query` event carries: a driver code when there is one.
    #[doc(hidden)]
    fn error_code(error: &dyn sqlx::error::DatabaseError) -> Option<String>;
}

/// Most connections whose ids are remembered; beyond, the oldest is forgotten (a pool closes
/// and opens connections over time).
const MAX_KNOWN_CONNECTIONS: usize = 4096;

#[derive(Default)]
struct KnownConnections {
    ids: HashMap<(&'static str, usize), String>,
    order: VecDeque<(&'static str, usize)>,
}

static KNOWN: Mutex<Option<KnownConnections>> = Mutex::new(None);

/// The id of a connection: the same for its life, when the driver identifies it; a new one
/// otherwise.
async fn connection_id<DB: TracedDatabase>(conn: &mut DB::Connection) -> String
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    let Some(key) = DB::connection_key(conn).await else {
        return new_connection_id(DB::DRIVER);
    };
    let Ok(mut known) = KNOWN.lock() else {
        return new_connection_id(DB::DRIVER);
    };
    let known = known.get_or_insert_with(KnownConnections::default);
    if let Some(id) = known.ids.get(&(DB::DRIVER, key)) {
        return id.clone();
    }
    if known.order.len() >= MAX_KNOWN_CONNECTIONS {
        if let Some(oldest) = known.order.pop_front() {
            known.ids.remove(&oldest);
        }
    }
    let id = new_connection_id(DB::DRIVER);
    known.ids.insert((DB::DRIVER, key), id.clone());
    known.order.push_back((DB::DRIVER, key));
    id
}

fn query_error<DB: TracedDatabase>(error: &sqlx::Error) -> QueryError
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    let kind = match error {
        sqlx::Error::Database(db) => {
            DB::error_code(db.as_ref()).unwrap_or_else(|| "Database".into())
        }
        other => format!("{other:?}")
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

/// A sqlx pool whose statements are recorded (through [`query`] and [`query_as`]). Cheap to
/// clone, as sqlx's; [`Pool::inner`] is the sqlx pool, for what is not wrapped (its statements
/// are not recorded).
pub struct Pool<DB: Database> {
    pool: sqlx::Pool<DB>,
}

impl<DB: Database> Clone for Pool<DB> {
    fn clone(&self) -> Self {
        Pool {
            pool: self.pool.clone(),
        }
    }
}

impl<DB: Database> std::fmt::Debug for Pool<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.pool.size())
            .finish()
    }
}

impl<DB: Database> From<sqlx::Pool<DB>> for Pool<DB> {
    fn from(pool: sqlx::Pool<DB>) -> Self {
        Pool { pool }
    }
}

/// A PostgreSQL pool whose statements are recorded.
#[cfg(feature = "sqlx-postgres")]
pub type PgPool = Pool<sqlx::Postgres>;
/// A SQLite pool whose statements are recorded.
#[cfg(feature = "sqlx-sqlite")]
pub type SqlitePool = Pool<sqlx::Sqlite>;

impl<DB: TracedDatabase> Pool<DB>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    /// Wraps a pool.
    pub fn new(pool: sqlx::Pool<DB>) -> Self {
        Pool { pool }
    }

    /// The sqlx pool.
    pub fn inner(&self) -> &sqlx::Pool<DB> {
        &self.pool
    }

    /// A connection of the pool, for several statements on one connection.
    pub async fn acquire(&self) -> Result<Connection<DB>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let id = connection_id::<DB>(&mut conn).await;
        Ok(Connection { conn, id })
    }

    /// `sqlx::Pool::begin`: a transaction on one connection, its `BEGIN` recorded.
    pub async fn begin(&self) -> Result<Transaction<'static, DB>, sqlx::Error> {
        self.begin_statement(None).await
    }

    /// `sqlx::Pool::begin_with`: a transaction begun with `statement`
    /// (`BEGIN ISOLATION LEVEL SERIALIZABLE`, SQLite's `BEGIN IMMEDIATE`), recorded.
    pub async fn begin_with(
        &self,
        statement: impl Into<Cow<'static, str>>,
    ) -> Result<Transaction<'static, DB>, sqlx::Error> {
        self.begin_statement(Some(statement.into())).await
    }

    async fn begin_statement(
        &self,
        statement: Option<Cow<'static, str>>,
    ) -> Result<Transaction<'static, DB>, sqlx::Error> {
        let text = statement.as_deref().unwrap_or("BEGIN").to_owned();
        let query = QueryCapture::current().map(|c| c.start(DB::SYSTEM, &text, ""));
        let result = match statement {
            Some(statement) => self.pool.begin_with(statement).await,
            None => self.pool.begin().await,
        };
        match result {
            Ok(mut tx) => {
                let id = connection_id::<DB>(&mut tx).await;
                if let Some(query) = query {
                    query.on_connection(&id).end_rows(None);
                }
                Ok(Transaction {
                    tx: Some(tx),
                    id,
                    system: DB::SYSTEM,
                    depth: 1,
                })
            }
            Err(error) => {
                // A BEGIN that failed before a connection was had (a pool timeout) is no
                // statement; one the database refused is.
                if let (Some(query), sqlx::Error::Database(_)) = (query, &error) {
                    query.on_connection(&new_connection_id(DB::DRIVER)).end(
                        None,
                        None,
                        Some(query_error::<DB>(&error)),
                    );
                }
                Err(error)
            }
        }
    }
}

/// One connection of a [`Pool`], returned to it when dropped. Derefs to the sqlx connection
/// (statements run on it directly are not recorded; run them through [`query`]).
pub struct Connection<DB: Database> {
    conn: PoolConnection<DB>,
    id: String,
}

impl<DB: Database> Connection<DB> {
    /// The connection id its events carry.
    pub fn connection_id(&self) -> &str {
        &self.id
    }
}

impl<DB: Database> Deref for Connection<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.conn
    }
}

impl<DB: Database> DerefMut for Connection<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }
}

/// The names sqlx gives its savepoints (`SAVEPOINT _sqlx_savepoint_1`, then `_2` inside it):
/// the statements recorded are the ones it sends.
const SQLX_SAVEPOINT_PREFIX: &str = "_sqlx_savepoint_";

/// A transaction of a [`Pool`], or one nested in another ([`Transaction::begin`], a savepoint),
/// as sqlx's `Transaction<'c, DB>`: its statements are recorded on its connection, and so are
/// its `COMMIT` and `ROLLBACK` (`RELEASE SAVEPOINT` and `ROLLBACK TO SAVEPOINT` when nested),
/// also the rollback of a transaction dropped without either, which sqlx runs when the
/// connection is next used.
pub struct Transaction<'c, DB: Database> {
    tx: Option<sqlx::Transaction<'c, DB>>,
    id: String,
    system: DbSystem,
    /// How many transactions are open on the connection, this one included: sqlx's
    /// transaction depth, which names the savepoints (1 for a transaction of the pool).
    depth: usize,
}

impl<DB: Database> Transaction<'_, DB> {
    /// The connection id its events carry.
    pub fn connection_id(&self) -> &str {
        &self.id
    }

    /// The savepoint a transaction at `depth` opens (sqlx's `SAVEPOINT _sqlx_savepoint_<depth>`).
    fn savepoint_at(depth: usize) -> SavepointSql {
        SavepointSql::new(SQLX_SAVEPOINT_PREFIX, depth)
    }

    /// This transaction's savepoint, when it is nested.
    fn savepoint(&self) -> Option<SavepointSql> {
        (self.depth > 1).then(|| Self::savepoint_at(self.depth - 1))
    }

    fn commit_statement(&self) -> Cow<'static, str> {
        self.savepoint()
            .map_or(Cow::Borrowed("COMMIT"), |s| s.release().into())
    }

    fn rollback_statement(&self) -> Cow<'static, str> {
        self.savepoint()
            .map_or(Cow::Borrowed("ROLLBACK"), |s| s.rollback_to().into())
    }
}

impl<'c, DB: TracedDatabase> Transaction<'c, DB>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    /// A transaction nested in this one, as sqlx's `begin` on a transaction: a savepoint
    /// (`SAVEPOINT _sqlx_savepoint_N`) on the same connection, recorded with its id. Its
    /// `commit` releases the savepoint, its `rollback` (or a drop) undoes only what ran in it.
    pub async fn begin(&mut self) -> Result<Transaction<'_, DB>, sqlx::Error> {
        let savepoint = Self::savepoint_at(self.depth);
        let tx = self.tx.as_mut().expect("an open transaction");
        let nested =
            recorded::<DB, _>(&self.id, &savepoint.begin(), sqlx::Acquire::begin(tx)).await?;
        Ok(Transaction {
            tx: Some(nested),
            id: self.id.clone(),
            system: self.system,
            depth: self.depth + 1,
        })
    }

    /// `COMMIT` (`RELEASE SAVEPOINT` when nested), recorded.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let tx = self.tx.take().expect("a transaction is ended once");
        recorded::<DB, _>(&self.id, &self.commit_statement(), tx.commit()).await
    }

    /// `ROLLBACK` (`ROLLBACK TO SAVEPOINT` when nested), recorded.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let tx = self.tx.take().expect("a transaction is ended once");
        recorded::<DB, _>(&self.id, &self.rollback_statement(), tx.rollback()).await
    }
}

/// Runs `statement` (what `run` sends: a transaction's `COMMIT`, a `SAVEPOINT`), recorded on
/// the connection `id`.
async fn recorded<DB: TracedDatabase, T>(
    id: &str,
    statement: &str,
    run: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    let query = QueryCapture::current().map(|c| c.start(DB::SYSTEM, statement, id));
    let result = run.await;
    if let Some(query) = query {
        match &result {
            Ok(_) => query.end_rows(None),
            Err(error) => query.end(None, None, Some(query_error::<DB>(error))),
        }
    }
    result
}

impl<DB: Database> Drop for Transaction<'_, DB> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            // sqlx rolls back a transaction dropped open (to its savepoint when nested).
            if let Some(query) = QueryCapture::current() {
                query
                    .start(self.system, &self.rollback_statement(), &self.id)
                    .end_rows(None);
            }
        }
    }
}

impl<DB: Database> Deref for Transaction<'_, DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        self.tx.as_ref().expect("an open transaction")
    }
}

impl<DB: Database> DerefMut for Transaction<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.tx.as_mut().expect("an open transaction")
    }
}

/// The connection a statement runs on, and its id once known.
#[doc(hidden)]
pub enum Conn<'c, DB: Database> {
    Pooled(PoolConnection<DB>),
    Borrowed(&'c mut DB::Connection, &'c str),
}

impl<DB: TracedDatabase> Conn<'_, DB>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    fn raw(&mut self) -> &mut DB::Connection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Borrowed(conn, _) => conn,
        }
    }

    async fn id(&mut self) -> String {
        match self {
            Conn::Pooled(conn) => connection_id::<DB>(conn).await,
            Conn::Borrowed(_, id) => (*id).to_owned(),
        }
    }
}

/// Where a traced statement runs: `&Pool`, `&mut Transaction`, `&mut Connection`.
pub trait Executor<'c, DB: TracedDatabase>: Send
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    #[doc(hidden)]
    fn connection(self) -> BoxFuture<'c, Result<Conn<'c, DB>, sqlx::Error>>;
}

impl<'c, DB: TracedDatabase> Executor<'c, DB> for &'c Pool<DB>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    fn connection(self) -> BoxFuture<'c, Result<Conn<'c, DB>, sqlx::Error>> {
        Box::pin(async move { Ok(Conn::Pooled(self.pool.acquire().await?)) })
    }
}

impl<'c, DB: TracedDatabase> Executor<'c, DB> for &'c mut Transaction<'_, DB>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    fn connection(self) -> BoxFuture<'c, Result<Conn<'c, DB>, sqlx::Error>> {
        Box::pin(async move {
            let tx = self.tx.as_mut().expect("an open transaction");
            Ok(Conn::Borrowed(&mut **tx, &self.id))
        })
    }
}

impl<'c, DB: TracedDatabase> Executor<'c, DB> for &'c mut Connection<DB>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    fn connection(self) -> BoxFuture<'c, Result<Conn<'c, DB>, sqlx::Error>> {
        Box::pin(async move { Ok(Conn::Borrowed(&mut *self.conn, &self.id)) })
    }
}

/// A statement with its bound parameters, as `sqlx::query` builds it; see [`query`].
#[must_use = "a query runs only when executed or fetched"]
pub struct Query<'q, DB: Database> {
    sql: &'q str,
    inner: sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
    capture: Option<QueryCapture>,
}

/// `sqlx::query`, recorded: `query(sql).bind(a).bind(b).execute(&pool)`.
pub fn query<'q, DB: TracedDatabase>(sql: &'q str) -> Query<'q, DB>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    Query {
        sql,
        inner: sqlx::query(sql),
        capture: QueryCapture::current(),
    }
}

/// `sqlx::query_as`, recorded: rows mapped to `O` with `FromRow`.
pub fn query_as<'q, DB: TracedDatabase, O>(sql: &'q str) -> QueryAs<'q, DB, O>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    QueryAs {
        query: query(sql),
        output: PhantomData,
    }
}

impl<'q, DB: TracedDatabase> Query<'q, DB>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    /// Binds the next parameter (`$1`, `?`), digested first.
    pub fn bind<T>(mut self, value: T) -> Self
    where
        T: 'q + Encode<'q, DB> + Type<DB> + DigestValue,
    {
        if let Some(capture) = self.capture.as_mut() {
            capture.param(&value);
        }
        self.inner = self.inner.bind(value);
        self
    }

    /// The recording of this statement on `conn`, when there is one; the sqlx query to run.
    async fn start(
        self,
        conn: &mut Conn<'_, DB>,
    ) -> (
        Option<QueryInFlight>,
        sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
    ) {
        let query = match self.capture {
            Some(capture) => {
                let id = conn.id().await;
                Some(capture.start(DB::SYSTEM, self.sql, &id))
            }
            None => None,
        };
        (query, self.inner)
    }

    /// Runs the statement: the rows affected.
    pub fn execute<'e, 'c: 'e, E>(
        self,
        executor: E,
    ) -> BoxFuture<'e, Result<DB::QueryResult, sqlx::Error>>
    where
        'q: 'e,
        E: 'e + Executor<'c, DB>,
    {
        Box::pin(async move {
            let mut conn = executor.connection().await?;
            let (query, inner) = self.start(&mut conn).await;
            let result = inner.execute(conn.raw()).await;
            if let Some(query) = query {
                match &result {
                    Ok(done) => query.end_rows(Some(DB::rows_affected(done))),
                    Err(error) => query.end(None, None, Some(query_error::<DB>(error))),
                }
            }
            result
        })
    }

    /// Every row.
    pub fn fetch_all<'e, 'c: 'e, E>(
        self,
        executor: E,
    ) -> BoxFuture<'e, Result<Vec<DB::Row>, sqlx::Error>>
    where
        'q: 'e,
        E: 'e + Executor<'c, DB>,
    {
        Box::pin(async move {
            let mut conn = executor.connection().await?;
            let (query, inner) = self.start(&mut conn).await;
            let result = inner.fetch_all(conn.raw()).await;
            if let Some(query) = query {
                match &result {
                    Ok(rows) => end_with_rows::<DB>(query, rows),
                    Err(error) => query.end(None, None, Some(query_error::<DB>(error))),
                }
            }
            result
        })
    }

    /// The first row, if any.
    pub fn fetch_optional<'e, 'c: 'e, E>(
        self,
        executor: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'q: 'e,
        E: 'e + Executor<'c, DB>,
    {
        Box::pin(async move {
            let mut conn = executor.connection().await?;
            let (query, inner) = self.start(&mut conn).await;
            let result = inner.fetch_optional(conn.raw()).await;
            if let Some(query) = query {
                match &result {
                    Ok(row) => end_with_rows::<DB>(query, row.as_slice()),
                    Err(error) => query.end(None, None, Some(query_error::<DB>(error))),
                }
            }
            result
        })
    }

    /// The first row; `sqlx::Error::RowNotFound` when there is none.
    pub fn fetch_one<'e, 'c: 'e, E>(
        self,
        executor: E,
    ) -> BoxFuture<'e, Result<DB::Row, sqlx::Error>>
    where
        'q: 'e,
        E: 'e + Executor<'c, DB>,
    {
        Box::pin(async move {
            self.fetch_optional(executor)
                .await?
                .ok_or(sqlx::Error::RowNotFound)
        })
    }
}

fn end_with_rows<DB: TracedDatabase>(query: QueryInFlight, rows: &[DB::Row])
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    let mut returned = query.returned();
    for row in rows.iter().take(10) {
        DB::digest_row(row, &mut returned);
    }
    query.end(Some(rows.len() as u64), Some(returned), None);
}

/// A statement whose rows are mapped to `O`, as `sqlx::query_as` builds it; see [`query_as`].
#[must_use = "a query runs only when executed or fetched"]
pub struct QueryAs<'q, DB: Database, O> {
    query: Query<'q, DB>,
    output: PhantomData<fn() -> O>,
}

impl<'q, DB: TracedDatabase, O> QueryAs<'q, DB, O>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    O: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
{
    /// Binds the next parameter, digested first.
    pub fn bind<T>(mut self, value: T) -> Self
    where
        T: 'q + Encode<'q, DB> + Type<DB> + DigestValue,
    {
        self.query = self.query.bind(value);
        self
    }

    /// Every row, mapped.
    pub fn fetch_all<'e, 'c: 'e, E>(self, executor: E) -> BoxFuture<'e, Result<Vec<O>, sqlx::Error>>
    where
        'q: 'e,
        E: 'e + Executor<'c, DB>,
        O: 'e,
    {
        Box::pin(async move {
            let rows = self.query.fetch_all(executor).await?;
            rows.iter().map(O::from_row).collect()
        })
    }

    /// The first row mapped, if any.
    pub fn fetch_optional<'e, 'c: 'e, E>(
        self,
        executor: E,
    ) -> BoxFuture<'e, Result<Option<O>, sqlx::Error>>
    where
        'q: 'e,
        E: 'e + Executor<'c, DB>,
        O: 'e,
    {
        Box::pin(async move {
            let row = self.query.fetch_optional(executor).await?;
            row.as_ref().map(O::from_row).transpose()
        })
    }

    /// The first row mapped; `sqlx::Error::RowNotFound` when there is none.
    pub fn fetch_one<'e, 'c: 'e, E>(self, executor: E) -> BoxFuture<'e, Result<O, sqlx::Error>>
    where
        'q: 'e,
        E: 'e + Executor<'c, DB>,
        O: 'e,
    {
        Box::pin(async move {
            let row = self.query.fetch_one(executor).await?;
            O::from_row(&row)
        })
    }
}

/// The digest of one column's value, decoded as the type its column says.
fn digest_value<'r, DB, T>(row: &'r DB::Row, i: usize) -> Option<String>
where
    DB: Database,
    T: sqlx::Decode<'r, DB> + Type<DB> + DigestValue,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    use sqlx::Row as _;
    row.try_get::<Option<T>, _>(i).ok().map(|v| {
        let mut canonical = String::new();
        v.write_canonical(&mut canonical);
        canonical
    })
}

fn digest_columns<DB: Database>(
    row: &DB::Row,
    returned: &mut Returned,
    canonical: impl Fn(&DB::Row, usize, &str) -> Option<String>,
) where
    usize: sqlx::ColumnIndex<DB::Row>,
{
    use sqlx::{Column as _, Row as _, TypeInfo as _};
    let mut digests = serde_json::Map::new();
    for (i, column) in row.columns().iter().enumerate().take(32) {
        let type_name = column.type_info().name().to_owned();
        if digests.contains_key(column.name()) {
            continue;
        }
        if let Some(form) = canonical(row, i, &type_name) {
            let digest = returned.digester().digest_canonical(&form);
            digests.insert(column.name().to_owned(), digest.into());
        }
    }
    returned.push_digests(digests);
}

#[cfg(feature = "sqlx-postgres")]
mod postgres {
    use super::*;
    use sqlx::postgres::{PgQueryResult, PgRow};
    use sqlx::{PgConnection, Postgres};

    impl sealed::Sealed for Postgres {}

    impl TracedDatabase for Postgres {
        const SYSTEM: DbSystem = DbSystem::Postgresql;
        const DRIVER: &'static str = "sqlx-pg";

        fn connection_key(conn: &mut PgConnection) -> BoxFuture<'_, Option<usize>> {
            // A PgConnection is one box of its state, allocated when it connects and kept
            // until it closes: its address names the connection for its life, wherever the
            // pool moves the handle. Read only when the handle is that one pointer.
            let key = (std::mem::size_of::<PgConnection>() == std::mem::size_of::<usize>()).then(
                // SAFETY: a PgConnection of pointer size is its heap pointer; the bits are
                // read as an integer, never dereferenced.
                || unsafe { std::mem::transmute_copy::<PgConnection, usize>(conn) },
            );
            Box::pin(std::future::ready(key))
        }

        fn rows_affected(result: &PgQueryResult) -> u64 {
            result.rows_affected()
        }

        fn digest_row(row: &PgRow, returned: &mut Returned) {
            digest_columns::<Postgres>(row, returned, |row, i, type_name| match type_name {
                "INT2" => digest_value::<Postgres, i16>(row, i),
                "INT4" => digest_value::<Postgres, i32>(row, i),
                "INT8" => digest_value::<Postgres, i64>(row, i),
                "FLOAT4" => digest_value::<Postgres, f32>(row, i),
                "FLOAT8" => digest_value::<Postgres, f64>(row, i),
                "BOOL" => digest_value::<Postgres, bool>(row, i),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => {
                    digest_value::<Postgres, String>(row, i)
                }
                "BYTEA" => digest_value::<Postgres, Vec<u8>>(row, i),
                // Other types (numeric, dates, json) need sqlx features of their own: their
                // columns are left out.
                _ => None,
            });
        }

        fn error_code(error: &dyn sqlx::error::DatabaseError) -> Option<String> {
            // The SQLSTATE (`40001`, `23505`).
            error.code().map(|c| c.into_owned())
        }
    }
}

#[cfg(feature = "sqlx-sqlite")]
mod sqlite {
    use super::*;
    use sqlx::sqlite::{SqliteQueryResult, SqliteRow};
    use sqlx::{Sqlite, SqliteConnection, ValueRef as _};

    impl sealed::Sealed for Sqlite {}

    impl TracedDatabase for Sqlite {
        const SYSTEM: DbSystem = DbSystem::Sqlite;
        const DRIVER: &'static str = "sqlx-sqlite";

        fn connection_key(conn: &mut SqliteConnection) -> BoxFuture<'_, Option<usize>> {
            // The sqlite3 handle, open for the connection's life.
            Box::pin(async move {
                let mut handle = conn.lock_handle().await.ok()?;
                Some(handle.as_raw_handle().as_ptr() as usize)
            })
        }

        fn rows_affected(result: &SqliteQueryResult) -> u64 {
            result.rows_affected()
        }

        fn digest_row(row: &SqliteRow, returned: &mut Returned) {
            use sqlx::{Row as _, TypeInfo as _};
            // SQLite's values carry their own storage class, whatever the column's type.
            digest_columns::<Sqlite>(row, returned, |row, i, _| {
                let raw = row.try_get_raw(i).ok()?;
                if raw.is_null() {
                    return Some("n".to_owned());
                }
                match raw.type_info().name() {
                    "INTEGER" | "BOOLEAN" => digest_value::<Sqlite, i64>(row, i),
                    "REAL" => digest_value::<Sqlite, f64>(row, i),
                    "TEXT" => digest_value::<Sqlite, String>(row, i),
                    "BLOB" => digest_value::<Sqlite, Vec<u8>>(row, i),
                    _ => None,
                }
            });
        }

        fn error_code(error: &dyn sqlx::error::DatabaseError) -> Option<String> {
            // The extended result code as a number: named as SQLite names its primary code.
            let code: i32 = error.code()?.parse().ok()?;
            Some(
                match code & 0xff {
                    5 => "SQLITE_BUSY",
                    6 => "SQLITE_LOCKED",
                    8 => "SQLITE_READONLY",
                    19 => "SQLITE_CONSTRAINT",
                    _ => "SQLITE_ERROR",
                }
                .to_owned(),
            )
        }
    }
}
