//! One statement's lifecycle, shared by every driver instrumentation: [`QueryCapture::current`]
//! when the statement is built (nothing to do outside a recording context), parameters digested
//! as they are bound, [`QueryInFlight::end`] when the driver answers.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use serde_json::{Map, Value};

use crate::context::{current, ExecutionContext};
use crate::digest::DigestValue;
use crate::event::{clamp, duration_ms, event_value, EventKind};

/// The database systems a `db_query` event names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbSystem {
    Postgresql,
    Mysql,
    Sqlite,
}

impl DbSystem {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DbSystem::Postgresql => "postgresql",
            DbSystem::Mysql => "mysql",
            DbSystem::Sqlite => "sqlite",
        }
    }
}

/// Longest statement text an event carries (event.schema.json).
pub const MAX_STATEMENT_LENGTH: usize = 4096;
const MAX_PARAMS: usize = 1000;
const MAX_PARAM_NAME: usize = 128;
const MAX_CONNECTION: usize = 128;
const MAX_DATABASE: usize = 256;
const MAX_ROWS: usize = 10;
const MAX_COLUMNS: usize = 32;
const MAX_ERROR_TYPE: usize = 256;
const MAX_ERROR_MESSAGE: usize = 2048;

/// The context a statement is recorded in, with its parameters as they are bound. `None` from
/// [`QueryCapture::current`] means there is nothing to record: the driver runs untouched.
///
/// ```no_run
/// use raceway_client::db::{DbSystem, QueryCapture};
/// # fn run(sql: &str, id: i64) -> Result<u64, std::io::Error> { Ok(1) }
/// let sql = "UPDATE products SET stock = stock - 1 WHERE id = ?";
/// let mut capture = QueryCapture::current();
/// if let Some(capture) = capture.as_mut() {
///     capture.param(&42_i64);
/// }
/// let query = capture.map(|c| c.start(DbSystem::Sqlite, sql, "mydriver#1"));
/// let result = run(sql, 42);
/// if let Some(query) = query {
///     match &result {
///         Ok(changed) => query.end_rows(Some(*changed)),
///         Err(error) => query.end_error("Error", &error.to_string()),
///     }
/// }
/// ```
#[derive(Clone)]
pub struct QueryCapture {
    ctx: ExecutionContext,
    params: Vec<Value>,
    values: bool,
    named: usize,
}

impl std::fmt::Debug for QueryCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryCapture")
            .field("params", &self.params.len())
            .finish_non_exhaustive()
    }
}

impl QueryCapture {
    /// The current task's context, when it is sampled and its client records queries.
    pub fn current() -> Option<Self> {
        current().and_then(Self::in_context)
    }

    /// A capture in `ctx`, when it is sampled and its client records queries.
    pub fn in_context(ctx: ExecutionContext) -> Option<Self> {
        if !ctx.is_sampled() || !ctx.config().capture_queries || ctx.config().disabled {
            return None;
        }
        let values = ctx.config().capture_values;
        Some(QueryCapture {
            ctx,
            params: Vec::new(),
            values,
            named: 0,
        })
    }

    /// Records the next positional parameter (at most 1000 are kept).
    pub fn param<T: DigestValue + ?Sized>(&mut self, value: &T) {
        if let Some(param) = self.digest(value, None) {
            // Named parameters come after the positional ones.
            let at = self.params.len() - self.named;
            self.params.insert(at, param);
        }
    }

    /// Records a named parameter, its name without the prefix (`id` for `:id`, `@id`, `$id`).
    pub fn named_param<T: DigestValue + ?Sized>(&mut self, name: &str, value: &T) {
        if let Some(param) = self.digest(value, Some(name)) {
            self.params.push(param);
            self.named += 1;
        }
    }

    fn digest<T: DigestValue + ?Sized>(&self, value: &T, name: Option<&str>) -> Option<Value> {
        if self.params.len() >= MAX_PARAMS {
            return None;
        }
        catch_unwind(AssertUnwindSafe(|| {
            let mut param = Map::new();
            let digest = self.ctx.config().digest_key.digester().digest(value);
            param.insert("digest".into(), digest.into());
            if let Some(name) = name {
                let name = name.trim_start_matches([':', '@', '$']);
                param.insert("name".into(), clamp(name, MAX_PARAM_NAME).into());
            }
            if self.values {
                param.insert("value".into(), event_value(value.raw_value()));
            }
            Value::Object(param)
        }))
        .ok()
    }

    /// The statement is sent now, on `connection`: the clock for its duration starts.
    pub fn start(self, system: DbSystem, statement: &str, connection: &str) -> QueryInFlight {
        QueryInFlight {
            capture: self,
            system,
            statement: statement.to_owned(),
            connection: connection.to_owned(),
            database: None,
            started: Instant::now(),
        }
    }

    /// Digests of the rows a statement returned, for [`QueryInFlight::end`].
    pub fn returned(&self) -> Returned {
        Returned {
            rows: Vec::new(),
            key: self.ctx.config().digest_key.clone(),
        }
    }
}

/// Digests of the first 10 rows (32 columns) a statement returned.
pub struct Returned {
    rows: Vec<Map<String, Value>>,
    key: crate::config::DigestKey,
}

impl Returned {
    /// True once 10 rows are kept: the rest are not digested.
    pub fn is_full(&self) -> bool {
        self.rows.len() >= MAX_ROWS
    }

    /// Adds a row: `columns` gives each column's name and value, in order.
    pub fn push_row<'a>(
        &mut self,
        columns: impl IntoIterator<Item = (&'a str, &'a dyn DigestValue)>,
    ) {
        if self.is_full() {
            return;
        }
        let mut row = Map::new();
        for (name, value) in columns {
            if row.len() == MAX_COLUMNS {
                break;
            }
            if !row.contains_key(name) {
                let digest = self.key.digester().digest(value);
                row.insert(name.to_owned(), digest.into());
            }
        }
        self.rows.push(row);
    }

    /// Adds a row of digests already computed, by column name.
    pub fn push_digests(&mut self, row: Map<String, Value>) {
        if !self.is_full() {
            self.rows.push(row);
        }
    }

    /// The digester of this capture's key.
    pub fn digester(&self) -> &crate::digest::Digester {
        self.key.digester()
    }
}

/// The error a statement answered with: the driver's code when it has one (SQLSTATE
/// `40001`, `SQLITE_BUSY`), else its type name, and the message.
#[derive(Clone, Debug)]
pub struct QueryError {
    pub kind: String,
    pub message: String,
}

/// A statement sent and not answered yet: [`QueryInFlight::end`] records it.
pub struct QueryInFlight {
    capture: QueryCapture,
    system: DbSystem,
    statement: String,
    connection: String,
    database: Option<String>,
    started: Instant,
}

impl QueryInFlight {
    /// An empty set of row digests, to pass to [`QueryInFlight::end`].
    pub fn returned(&self) -> Returned {
        self.capture.returned()
    }

    /// The connection, when it is known only once the statement ran (a pool's `begin`).
    pub fn on_connection(mut self, connection: &str) -> Self {
        connection.clone_into(&mut self.connection);
        self
    }

    /// The database name, when the driver knows it.
    pub fn database(mut self, name: Option<&str>) -> Self {
        self.database = name.filter(|n| !n.is_empty()).map(str::to_owned);
        self
    }

    /// The statement affected or returned `rows` rows (`None`: unknown).
    pub fn end_rows(self, rows: Option<u64>) {
        self.end(rows, None, None)
    }

    /// The statement failed.
    pub fn end_error(self, kind: &str, message: &str) {
        self.end(
            None,
            None,
            Some(QueryError {
                kind: kind.to_owned(),
                message: message.to_owned(),
            }),
        )
    }

    /// Records the `db_query` event. Never panics into the caller.
    pub fn end(self, rows: Option<u64>, returned: Option<Returned>, error: Option<QueryError>) {
        let _ = catch_unwind(AssertUnwindSafe(|| self.record(rows, returned, error)));
    }

    fn record(self, rows: Option<u64>, returned: Option<Returned>, error: Option<QueryError>) {
        if self.statement.is_empty() {
            return;
        }
        let mut data = Map::new();
        data.insert("system".into(), self.system.as_str().into());
        let statement = clamp(&self.statement, MAX_STATEMENT_LENGTH);
        if statement.len() < self.statement.len() {
            data.insert("statement_truncated".into(), true.into());
        }
        data.insert("statement".into(), statement.into());
        data.insert("params".into(), Value::Array(self.capture.params));
        let connection = if self.connection.is_empty() {
            "unknown".to_owned()
        } else {
            clamp(&self.connection, MAX_CONNECTION)
        };
        data.insert("connection".into(), connection.into());
        if let Some(database) = &self.database {
            data.insert("database".into(), clamp(database, MAX_DATABASE).into());
        }
        data.insert("rows".into(), rows.map_or(Value::Null, Value::from));
        if let Some(returned) = returned {
            let rows = returned.rows.into_iter().map(Value::Object).collect();
            data.insert("returned".into(), Value::Array(rows));
        }
        if let Some(error) = error {
            data.insert(
                "error".into(),
                serde_json::json!({
                    "type": clamp(&error.kind, MAX_ERROR_TYPE),
                    "message": clamp(&error.message, MAX_ERROR_MESSAGE),
                }),
            );
        }
        data.insert("duration_ms".into(), duration_ms(self.started).into());
        self.capture
            .ctx
            .record(EventKind::DbQuery, Value::Object(data));
    }
}
