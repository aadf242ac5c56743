//! sqlx through `raceway_client::db::sqlx`, on a real SQLite file and a throwaway PostgreSQL
//! cluster: what the `db_query` events say, and that the application sees sqlx's results and
//! errors unchanged.
#![cfg(any(feature = "sqlx-sqlite", feature = "sqlx-postgres"))]

mod common;

use common::collector::{of_kind, FakeCollector};
use common::schema::assert_valid_event;
use raceway_client::RacewayClient;
use serde_json::Value;

async fn db_events(collector: &FakeCollector, client: &RacewayClient) -> Vec<Value> {
    client.flush().await;
    let events = collector.events();
    for event in &events {
        assert_valid_event(event);
    }
    of_kind(&events, "db_query").into_iter().cloned().collect()
}

fn statements(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["data"]["statement"].as_str().unwrap())
        .collect()
}

const KEY: &str = "raceway-digest-v1";

/// A value whose digest panics: the query runs and answers as without Raceway, binding the
/// value it wraps.
struct Unlucky<T>(T);

impl<T> raceway_client::db::DigestValue for Unlucky<T> {
    fn write_canonical(&self, _: &mut String) {
        panic!("a digest that fails");
    }
    fn raw_value(&self) -> Value {
        panic!("a value that fails");
    }
}

impl<DB: sqlx::Database, T: sqlx::Type<DB>> sqlx::Type<DB> for Unlucky<T> {
    fn type_info() -> DB::TypeInfo {
        T::type_info()
    }
}

impl<'q, DB: sqlx::Database, T: sqlx::Encode<'q, DB>> sqlx::Encode<'q, DB> for Unlucky<T> {
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        self.0.encode_by_ref(buf)
    }
}

#[cfg(feature = "sqlx-sqlite")]
mod sqlite {
    use super::*;
    use common::collector::client_for;
    use raceway_client::db::param_digest;
    use raceway_client::db::sqlx::{query, query_as, SqlitePool};
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sqlx::Row as _;

    async fn pool(max: u32) -> (SqlitePool, std::path::PathBuf) {
        let file = std::env::temp_dir().join(format!(
            "raceway-sqlx-{}-{}.db",
            std::process::id(),
            fastrand::u64(..)
        ));
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, stock INTEGER NOT NULL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO products VALUES (1, 'mug', 10), (2, 'cup', 5)")
            .execute(&pool)
            .await
            .unwrap();
        (SqlitePool::new(pool), file)
    }

    #[tokio::test]
    async fn statements_parameters_rows_and_a_pooled_connection_keep_their_id() {
        let collector = FakeCollector::start().await;
        let client = client_for(&collector.url, "order");
        let (pool, file) = pool(1).await;
        let ctx = client.start_context(&Default::default()).unwrap();
        let (stock, changed) = ctx
            .scope(async {
                let (stock,): (i64,) = query_as("SELECT stock FROM products WHERE id = ?")
                    .bind(1_i64)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                let done = query("UPDATE products SET stock = ? WHERE id = ?")
                    .bind(stock - 1)
                    .bind(1_i64)
                    .execute(&pool)
                    .await
                    .unwrap();
                let rows = query("SELECT name FROM products WHERE stock > ? ORDER BY id")
                    .bind(Some(0_i32))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                assert_eq!(rows[1].get::<String, _>("name"), "cup");
                (stock, done.rows_affected())
            })
            .await;
        assert_eq!((stock, changed), (10, 1));
        let events = db_events(&collector, &client).await;
        assert_eq!(events.len(), 3, "{events:#?}");
        let select = &events[0]["data"];
        assert_eq!(select["system"], "sqlite");
        assert_eq!(
            select["statement"],
            "SELECT stock FROM products WHERE id = ?"
        );
        assert_eq!(select["params"][0]["digest"], param_digest(&1, KEY));
        assert_eq!(select["returned"][0]["stock"], param_digest(&10, KEY));
        assert_eq!(select["rows"], 1);
        let update = &events[1]["data"];
        assert_eq!(update["params"][0]["digest"], param_digest(&9, KEY));
        assert_eq!(update["rows"], 1);
        assert_eq!(events[2]["data"]["rows"], 2);
        assert_eq!(
            events[2]["data"]["returned"][1]["name"],
            param_digest("cup", KEY)
        );
        // One connection in the pool: one id for every statement.
        let id = select["connection"].as_str().unwrap();
        assert!(id.starts_with("sqlx-sqlite#"), "{id}");
        assert!(events.iter().all(|e| e["data"]["connection"] == id));
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn transactions_are_recorded_on_their_connection() {
        let collector = FakeCollector::start().await;
        let client = client_for(&collector.url, "inventory");
        let (pool, file) = pool(2).await;
        let ctx = client.start_context(&Default::default()).unwrap();
        let ids = ctx
            .scope(async {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                query("UPDATE products SET stock = stock - 1 WHERE id = ?")
                    .bind(1_i64)
                    .execute(&mut tx)
                    .await
                    .unwrap();
                let first = tx.connection_id().to_owned();
                tx.commit().await.unwrap();
                let mut tx = pool.begin().await.unwrap();
                query("DELETE FROM products WHERE id = ?")
                    .bind(2_i64)
                    .execute(&mut tx)
                    .await
                    .unwrap();
                let second = tx.connection_id().to_owned();
                tx.rollback().await.unwrap();
                let mut tx = pool.begin().await.unwrap();
                query("DELETE FROM products")
                    .execute(&mut tx)
                    .await
                    .unwrap();
                drop(tx);
                (first, second)
            })
            .await;
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
            .fetch_one(pool.inner())
            .await
            .unwrap();
        assert_eq!(
            count, 2,
            "the rolled back and the dropped transactions changed nothing"
        );
        let events = db_events(&collector, &client).await;
        assert_eq!(
            statements(&events),
            [
                "BEGIN IMMEDIATE",
                "UPDATE products SET stock = stock - 1 WHERE id = ?",
                "COMMIT",
                "BEGIN",
                "DELETE FROM products WHERE id = ?",
                "ROLLBACK",
                "BEGIN",
                "DELETE FROM products",
                "ROLLBACK",
            ]
        );
        for (event, id) in events
            .iter()
            .zip([&ids.0, &ids.0, &ids.0, &ids.1, &ids.1, &ids.1])
        {
            assert_eq!(event["data"]["connection"], id.as_str());
        }
        assert_eq!(
            events[6]["data"]["connection"],
            events[8]["data"]["connection"]
        );
        let _ = std::fs::remove_file(file);
    }

    async fn products(pool: &SqlitePool) -> Vec<(i64, i64)> {
        sqlx::query_as("SELECT id, stock FROM products ORDER BY id")
            .fetch_all(pool.inner())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn nested_transactions_are_savepoints_on_the_transaction_connection() {
        let collector = FakeCollector::start().await;
        let client = client_for(&collector.url, "inventory");
        let (pool, file) = pool(2).await;
        let ctx = client.start_context(&Default::default()).unwrap();
        let id = ctx
            .scope(async {
                let mut tx = pool.begin().await.unwrap();
                query("UPDATE products SET stock = 0 WHERE id = ?")
                    .bind(1_i64)
                    .execute(&mut tx)
                    .await
                    .unwrap();
                let id = tx.connection_id().to_owned();
                let mut inner = tx.begin().await.unwrap();
                assert_eq!(inner.connection_id(), id);
                query("DELETE FROM products WHERE id = ?")
                    .bind(2_i64)
                    .execute(&mut inner)
                    .await
                    .unwrap();
                inner.rollback().await.unwrap();
                let mut inner = tx.begin().await.unwrap();
                query("INSERT INTO products VALUES (3, 'bowl', 3)")
                    .execute(&mut inner)
                    .await
                    .unwrap();
                let mut innermost = inner.begin().await.unwrap();
                query("INSERT INTO products VALUES (4, 'plate', 4)")
                    .execute(&mut innermost)
                    .await
                    .unwrap();
                drop(innermost); // rolled back to its savepoint, as sqlx does
                inner.commit().await.unwrap();
                tx.commit().await.unwrap();
                id
            })
            .await;
        assert_eq!(
            products(&pool).await,
            [(1, 0), (2, 5), (3, 3)],
            "the outer write and the released savepoint's stay; the rolled back ones do not"
        );
        let events = db_events(&collector, &client).await;
        assert_eq!(
            statements(&events),
            [
                "BEGIN",
                "UPDATE products SET stock = 0 WHERE id = ?",
                "SAVEPOINT _sqlx_savepoint_1",
                "DELETE FROM products WHERE id = ?",
                "ROLLBACK TO SAVEPOINT _sqlx_savepoint_1",
                "SAVEPOINT _sqlx_savepoint_1",
                "INSERT INTO products VALUES (3, 'bowl', 3)",
                "SAVEPOINT _sqlx_savepoint_2",
                "INSERT INTO products VALUES (4, 'plate', 4)",
                "ROLLBACK TO SAVEPOINT _sqlx_savepoint_2",
                "RELEASE SAVEPOINT _sqlx_savepoint_1",
                "COMMIT",
            ]
        );
        assert!(
            events
                .iter()
                .all(|e| e["data"]["connection"] == id.as_str()),
            "{events:#?}"
        );
        assert!(events.iter().all(|e| e["data"]["error"].is_null()));
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn errors_are_recorded_and_returned_unchanged() {
        let collector = FakeCollector::start().await;
        let client = client_for(&collector.url, "order");
        let (pool, file) = pool(1).await;
        let ctx = client.start_context(&Default::default()).unwrap();
        let error = ctx
            .scope(async {
                query("INSERT INTO products (id, name, stock) VALUES (?, ?, ?)")
                    .bind(1_i64)
                    .bind("mug")
                    .bind(1_i64)
                    .execute(&pool)
                    .await
                    .unwrap_err()
            })
            .await;
        let db_error = error.as_database_error().expect("a database error");
        assert_eq!(db_error.code().as_deref(), Some("1555")); // SQLITE_CONSTRAINT_PRIMARYKEY
        let events = db_events(&collector, &client).await;
        assert_eq!(events[0]["data"]["error"]["type"], "SQLITE_CONSTRAINT");
        assert_eq!(events[0]["data"]["error"]["message"], error.to_string());
        assert_eq!(
            events[0]["data"]["params"][1]["digest"],
            param_digest("mug", KEY)
        );
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn nothing_is_recorded_outside_a_context_or_with_capture_off() {
        let collector = FakeCollector::start().await;
        let off = RacewayClient::builder()
            .service_name("order")
            .server_url(&collector.url)
            .capture_queries(false)
            .build()
            .unwrap();
        let (pool, file) = pool(1).await;
        let update = || async {
            query("UPDATE products SET stock = 1 WHERE id = ?")
                .bind(1_i64)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        };
        assert_eq!(update().await, 1);
        let ctx = off.start_context(&Default::default()).unwrap();
        assert_eq!(ctx.scope(update()).await, 1);
        off.flush().await;
        assert!(of_kind(&collector.events(), "db_query").is_empty());
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn a_failing_recorder_never_fails_the_query() {
        let collector = FakeCollector::start().await;
        let client = client_for(&collector.url, "order");
        let (pool, file) = pool(1).await;
        let ctx = client.start_context(&Default::default()).unwrap();
        let changed = ctx
            .scope(async {
                query("UPDATE products SET stock = 0 WHERE id = ?")
                    .bind(Unlucky(1_i64))
                    .execute(&pool)
                    .await
                    .unwrap()
                    .rows_affected()
            })
            .await;
        assert_eq!(changed, 1);
        let events = db_events(&collector, &client).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["data"]["params"], serde_json::json!([]));
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn a_failing_recorder_never_fails_a_nested_transaction() {
        let collector = FakeCollector::start().await;
        let client = client_for(&collector.url, "order");
        let (pool, file) = pool(1).await;
        let nested = || async {
            let mut tx = pool.begin().await.unwrap();
            let mut inner = tx.begin().await.unwrap();
            query("UPDATE products SET stock = stock + 1 WHERE id = ?")
                .bind(Unlucky(1_i64))
                .execute(&mut inner)
                .await
                .unwrap();
            inner.commit().await.unwrap();
            let mut inner = tx.begin().await.unwrap();
            query("DELETE FROM products WHERE id = ?")
                .bind(Unlucky(2_i64))
                .execute(&mut inner)
                .await
                .unwrap();
            inner.rollback().await.unwrap();
            tx.commit().await.unwrap();
        };
        let ctx = client.start_context(&Default::default()).unwrap();
        ctx.scope(nested()).await;
        assert_eq!(products(&pool).await, [(1, 11), (2, 5)]);
        let events = db_events(&collector, &client).await;
        assert_eq!(events.len(), 8, "every statement recorded: {events:#?}");
        assert_eq!(events[2]["data"]["params"], serde_json::json!([]));
        assert_eq!(
            events[6]["data"]["statement"],
            "ROLLBACK TO SAVEPOINT _sqlx_savepoint_1"
        );
        // A client shut down under a live context: nothing can be sent, every statement runs.
        let ctx = client.start_context(&Default::default()).unwrap();
        client.shutdown().await;
        ctx.scope(nested()).await;
        assert_eq!(products(&pool).await, [(1, 12), (2, 5)]);
        let _ = std::fs::remove_file(file);
    }
}

#[cfg(feature = "sqlx-postgres")]
mod postgres {
    use super::*;
    use common::pg::PgCluster;
    use raceway_client::db::param_digest;
    use raceway_client::db::sqlx::{query, query_as, PgPool};
    use sqlx::postgres::PgPoolOptions;

    async fn pool(cluster: &PgCluster, max: u32) -> PgPool {
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .connect(&cluster.url)
            .await
            .unwrap();
        sqlx::raw_sql(
            "DROP TABLE IF EXISTS products;
             CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, stock INTEGER NOT NULL);
             INSERT INTO products VALUES (1, 'mug', 10), (2, 'cup', 5);",
        )
        .execute(&pool)
        .await
        .unwrap();
        PgPool::new(pool)
    }

    /// One cluster for the PostgreSQL tests: they run one after the other in this test.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgresql() {
        let Some(cluster) = PgCluster::start() else {
            return;
        };
        statements_transactions_errors_and_connection_ids(&cluster).await;
        nested_transactions_are_savepoints_on_the_transaction_connection(&cluster).await;
        a_failing_recorder_never_fails_a_nested_transaction(&cluster).await;
    }

    async fn statements_transactions_errors_and_connection_ids(cluster: &PgCluster) {
        let collector = FakeCollector::start().await;
        let client = RacewayClient::builder()
            .service_name("order")
            .server_url(&collector.url)
            .capture_values(true)
            .build()
            .unwrap();
        let pool = pool(cluster, 2).await;
        let ctx = client.start_context(&Default::default()).unwrap();
        let (error, ids) = ctx
            .scope(async {
                let (stock,): (i32,) = query_as("SELECT stock FROM products WHERE id = $1")
                    .bind(1_i32)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                assert_eq!(stock, 10);
                query("UPDATE products SET stock = $1 WHERE id = $2")
                    .bind(stock - 1)
                    .bind(1_i32)
                    .execute(&pool)
                    .await
                    .unwrap();
                // Two connections held at once have two ids.
                let a = pool.acquire().await.unwrap();
                let b = pool.acquire().await.unwrap();
                let ids = (a.connection_id().to_owned(), b.connection_id().to_owned());
                drop((a, b));
                let mut tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
                    .await
                    .unwrap();
                let row = query("SELECT stock, name FROM products WHERE id = $1 FOR UPDATE")
                    .bind(2_i32)
                    .fetch_optional(&mut tx)
                    .await
                    .unwrap();
                assert!(row.is_some());
                query("SAVEPOINT before_delete")
                    .execute(&mut tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                let error = query("INSERT INTO products (id, name, stock) VALUES ($1, $2, $3)")
                    .bind(1_i32)
                    .bind("mug")
                    .bind(1_i32)
                    .execute(&pool)
                    .await
                    .unwrap_err();
                (error, ids)
            })
            .await;
        assert_eq!(
            error.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("23505")
        );
        assert_ne!(ids.0, ids.1);
        let events = db_events(&collector, &client).await;
        assert_eq!(
            statements(&events),
            [
                "SELECT stock FROM products WHERE id = $1",
                "UPDATE products SET stock = $1 WHERE id = $2",
                "BEGIN ISOLATION LEVEL SERIALIZABLE",
                "SELECT stock, name FROM products WHERE id = $1 FOR UPDATE",
                "SAVEPOINT before_delete",
                "COMMIT",
                "INSERT INTO products (id, name, stock) VALUES ($1, $2, $3)",
            ]
        );
        let data = |i: usize| &events[i]["data"];
        assert_eq!(data(0)["system"], "postgresql");
        assert_eq!(data(0)["params"][0]["digest"], param_digest(&1, KEY));
        assert_eq!(data(0)["params"][0]["value"], 1, "capture_values is on");
        assert_eq!(data(0)["returned"][0]["stock"], param_digest(&10, KEY));
        assert_eq!(data(1)["params"][0]["digest"], param_digest(&9, KEY));
        assert_eq!(data(1)["rows"], 1);
        assert_eq!(data(3)["returned"][0]["name"], param_digest("cup", KEY));
        // The transaction's statements are on its connection; every id is one of the pool's
        // two connections, which keep theirs.
        let tx_id = data(2)["connection"].as_str().unwrap();
        assert!(tx_id.starts_with("sqlx-pg#"), "{tx_id}");
        for i in 3..6 {
            assert_eq!(data(i)["connection"], tx_id);
        }
        for event in &events {
            let id = event["data"]["connection"].as_str().unwrap();
            assert!(id == ids.0 || id == ids.1, "{id} is not one of {ids:?}");
        }
        assert_eq!(data(6)["error"]["type"], "23505");
        pool.inner().close().await;
    }

    async fn products(pool: &PgPool) -> Vec<(i32, i32)> {
        sqlx::query_as("SELECT id, stock FROM products ORDER BY id")
            .fetch_all(pool.inner())
            .await
            .unwrap()
    }

    /// What the server last received on the connection of backend `pid`, as PostgreSQL
    /// reports it to another connection.
    async fn last_sent(pool: &PgPool, pid: i32) -> String {
        sqlx::query_scalar("SELECT query FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(pool.inner())
            .await
            .unwrap()
    }

    async fn nested_transactions_are_savepoints_on_the_transaction_connection(cluster: &PgCluster) {
        let collector = FakeCollector::start().await;
        let client = common::collector::client_for(&collector.url, "inventory");
        let pool = pool(cluster, 2).await;
        let ctx = client.start_context(&Default::default()).unwrap();
        let (id, sent, error) = ctx
            .scope(async {
                let mut tx = pool.begin().await.unwrap();
                let id = tx.connection_id().to_owned();
                let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                query("UPDATE products SET stock = 0 WHERE id = $1")
                    .bind(1_i32)
                    .execute(&mut tx)
                    .await
                    .unwrap();
                let mut inner = tx.begin().await.unwrap();
                let mut sent = vec![last_sent(&pool, pid).await];
                query("DELETE FROM products WHERE id = $1")
                    .bind(2_i32)
                    .execute(&mut inner)
                    .await
                    .unwrap();
                inner.rollback().await.unwrap();
                sent.push(last_sent(&pool, pid).await);
                // A failed statement aborts the transaction; rolling back to the savepoint
                // recovers it, as it does without Raceway.
                let mut inner = tx.begin().await.unwrap();
                let error = query("INSERT INTO products VALUES ($1, 'mug', 1)")
                    .bind(1_i32)
                    .execute(&mut inner)
                    .await
                    .unwrap_err();
                inner.rollback().await.unwrap();
                let mut inner = tx.begin().await.unwrap();
                query("INSERT INTO products VALUES (3, 'bowl', 3)")
                    .execute(&mut inner)
                    .await
                    .unwrap();
                let mut innermost = inner.begin().await.unwrap();
                query("INSERT INTO products VALUES (4, 'plate', 4)")
                    .execute(&mut innermost)
                    .await
                    .unwrap();
                drop(innermost); // rolled back to its savepoint, as sqlx does
                inner.commit().await.unwrap();
                sent.push(last_sent(&pool, pid).await);
                tx.commit().await.unwrap();
                (id, sent, error)
            })
            .await;
        assert_eq!(
            error.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("23505")
        );
        assert_eq!(
            products(&pool).await,
            [(1, 0), (2, 5), (3, 3)],
            "the outer write and the released savepoint's stay; the rolled back ones do not"
        );
        let events = db_events(&collector, &client).await;
        assert_eq!(
            statements(&events),
            [
                "BEGIN",
                "UPDATE products SET stock = 0 WHERE id = $1",
                "SAVEPOINT _sqlx_savepoint_1",
                "DELETE FROM products WHERE id = $1",
                "ROLLBACK TO SAVEPOINT _sqlx_savepoint_1",
                "SAVEPOINT _sqlx_savepoint_1",
                "INSERT INTO products VALUES ($1, 'mug', 1)",
                "ROLLBACK TO SAVEPOINT _sqlx_savepoint_1",
                "SAVEPOINT _sqlx_savepoint_1",
                "INSERT INTO products VALUES (3, 'bowl', 3)",
                "SAVEPOINT _sqlx_savepoint_2",
                "INSERT INTO products VALUES (4, 'plate', 4)",
                "ROLLBACK TO SAVEPOINT _sqlx_savepoint_2",
                "RELEASE SAVEPOINT _sqlx_savepoint_1",
                "COMMIT",
            ]
        );
        // The statements recorded are the ones PostgreSQL received.
        assert_eq!(
            sent,
            [
                "SAVEPOINT _sqlx_savepoint_1",
                "ROLLBACK TO SAVEPOINT _sqlx_savepoint_1",
                "RELEASE SAVEPOINT _sqlx_savepoint_1",
            ]
        );
        assert!(id.starts_with("sqlx-pg#"), "{id}");
        assert!(
            events
                .iter()
                .all(|e| e["data"]["connection"] == id.as_str()),
            "{events:#?}"
        );
        assert_eq!(events[6]["data"]["error"]["type"], "23505");
        pool.inner().close().await;
    }

    async fn a_failing_recorder_never_fails_a_nested_transaction(cluster: &PgCluster) {
        let collector = FakeCollector::start().await;
        let client = common::collector::client_for(&collector.url, "order");
        let pool = pool(cluster, 1).await;
        let ctx = client.start_context(&Default::default()).unwrap();
        ctx.scope(async {
            let mut tx = pool.begin().await.unwrap();
            let mut inner = tx.begin().await.unwrap();
            query("UPDATE products SET stock = stock + 1 WHERE id = $1")
                .bind(Unlucky(1_i32))
                .execute(&mut inner)
                .await
                .unwrap();
            inner.commit().await.unwrap();
            let mut inner = tx.begin().await.unwrap();
            query("DELETE FROM products WHERE id = $1")
                .bind(Unlucky(2_i32))
                .execute(&mut inner)
                .await
                .unwrap();
            inner.rollback().await.unwrap();
            tx.commit().await.unwrap();
        })
        .await;
        assert_eq!(products(&pool).await, [(1, 11), (2, 5)]);
        let events = db_events(&collector, &client).await;
        assert_eq!(events.len(), 8, "every statement recorded: {events:#?}");
        assert_eq!(events[2]["data"]["params"], serde_json::json!([]));
        assert_eq!(
            events[6]["data"]["statement"],
            "ROLLBACK TO SAVEPOINT _sqlx_savepoint_1"
        );
        pool.inner().close().await;
    }
}
