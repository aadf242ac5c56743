//! rusqlite through `raceway_client::db::rusqlite::Connection`, on a real SQLite file: what the
//! `db_query` events say, and that the application sees rusqlite's results unchanged.
#![cfg(feature = "rusqlite")]

mod common;

use common::collector::{client_for, of_kind, FakeCollector};
use common::schema::assert_valid_event;
use raceway_client::db::param_digest;
use raceway_client::db::rusqlite::Connection;
use raceway_client::RacewayClient;
use rusqlite::{named_params, params, TransactionBehavior};
use serde_json::Value;

fn open(dir: &tempdir::Dir) -> Connection {
    let db = Connection::open(dir.path.join("shop.db")).unwrap();
    db.inner_setup();
    db
}

mod tempdir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "raceway-rusqlite-{name}-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

trait Setup {
    fn inner_setup(&self);
}

impl Setup for Connection {
    /// The schema, through the inner connection: outside any context, nothing is recorded.
    fn inner_setup(&self) {
        self.execute_batch(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, stock INTEGER NOT NULL);
             INSERT INTO products VALUES (1, 'mug', 10), (2, 'cup', 5);",
        )
        .unwrap();
    }
}

async fn db_events(collector: &FakeCollector, client: &RacewayClient) -> Vec<Value> {
    client.flush().await;
    let events = collector.events();
    for event in &events {
        assert_valid_event(event);
    }
    of_kind(&events, "db_query").into_iter().cloned().collect()
}

fn in_context<R>(client: &RacewayClient, f: impl FnOnce() -> R) -> R {
    client
        .start_context(&Default::default())
        .expect("enabled")
        .sync_scope(f)
}

#[tokio::test]
async fn statements_parameters_rows_and_returned_values_are_recorded() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "order");
    let dir = tempdir::Dir::new("basic");
    let db = open(&dir);
    let (stock, changed) = in_context(&client, || {
        let stock: i64 = db
            .query_row("SELECT stock FROM products WHERE id = ?1", [1], |row| {
                row.get(0)
            })
            .unwrap();
        let changed = db
            .execute(
                "UPDATE products SET stock = ?1 WHERE id = ?2",
                (stock - 1, 1),
            )
            .unwrap();
        (stock, changed)
    });
    assert_eq!((stock, changed), (10, 1));
    let events = db_events(&collector, &client).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    let key = "raceway-digest-v1";
    let select = &events[0]["data"];
    assert_eq!(select["system"], "sqlite");
    assert_eq!(
        select["statement"],
        "SELECT stock FROM products WHERE id = ?1"
    );
    assert_eq!(select["connection"], db.connection_id());
    assert!(db.connection_id().starts_with("rusqlite#"));
    assert_eq!(select["params"][0]["digest"], param_digest(&1_i64, key));
    assert!(
        select["params"][0].get("value").is_none(),
        "no raw value by default"
    );
    assert_eq!(select["rows"], 1);
    assert_eq!(select["returned"][0]["stock"], param_digest(&10_i64, key));
    let update = &events[1]["data"];
    assert_eq!(update["params"][0]["digest"], param_digest(&9_i64, key));
    assert_eq!(update["params"][1]["digest"], param_digest(&1_i64, key));
    assert_eq!(update["rows"], 1);
    assert!(update.get("returned").is_none());
    assert!(update["duration_ms"].as_f64().unwrap() >= 0.0);
    // The events carry the context's clock, one step each.
    assert_eq!(events[0]["trace_id"], events[1]["trace_id"]);
}

#[tokio::test]
async fn named_parameters_come_with_their_names_and_raw_values_when_switched_on() {
    let collector = FakeCollector::start().await;
    let client = RacewayClient::builder()
        .service_name("order")
        .server_url(&collector.url)
        .capture_values(true)
        .digest_key("shop-secret")
        .build()
        .unwrap();
    let dir = tempdir::Dir::new("named");
    let db = open(&dir);
    let names = in_context(&client, || {
        let mut statement = db
            .prepare("SELECT name FROM products WHERE stock > :min ORDER BY id")
            .unwrap();
        statement
            .query_map(named_params! { ":min": 1 }, |row| row.get::<_, String>(0))
            .unwrap()
    });
    assert_eq!(names, ["mug", "cup"]);
    let events = db_events(&collector, &client).await;
    let data = &events[0]["data"];
    assert_eq!(data["params"][0]["name"], "min");
    assert_eq!(data["params"][0]["value"], 1);
    assert_eq!(
        data["params"][0]["digest"],
        param_digest(&1_i64, "shop-secret")
    );
    assert_eq!(data["rows"], 2);
    assert_eq!(
        data["returned"][1]["name"],
        param_digest("cup", "shop-secret")
    );
}

#[tokio::test]
async fn errors_are_recorded_and_returned_unchanged() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "order");
    let dir = tempdir::Dir::new("errors");
    let db = open(&dir);
    let (duplicate, bad_sql) = in_context(&client, || {
        let duplicate = db
            .execute(
                "INSERT INTO products (id, name, stock) VALUES (?1, ?2, ?3)",
                params![1, "mug", 3],
            )
            .unwrap_err();
        let bad_sql = db.prepare("SELEC nothing").err().unwrap();
        (duplicate, bad_sql)
    });
    assert_eq!(
        duplicate.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ConstraintViolation)
    );
    assert!(bad_sql.to_string().contains("syntax error"), "{bad_sql}");
    let events = db_events(&collector, &client).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["data"]["error"]["type"], "SQLITE_CONSTRAINT");
    assert_eq!(events[0]["data"]["error"]["message"], duplicate.to_string());
    assert_eq!(events[1]["data"]["statement"], "SELEC nothing");
    assert_eq!(events[1]["data"]["error"]["type"], "SQLITE_ERROR");
}

#[tokio::test]
async fn transactions_and_savepoints_are_recorded_on_the_connection() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "order");
    let dir = tempdir::Dir::new("tx");
    let mut db = open(&dir);
    let id = db.connection_id().to_owned();
    in_context(&client, || {
        let mut tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        tx.execute("UPDATE products SET stock = stock - 1 WHERE id = ?1", [1])
            .unwrap();
        {
            let mut sp = tx.savepoint().unwrap();
            sp.execute("UPDATE products SET stock = 0 WHERE id = ?1", [2])
                .unwrap();
            sp.rollback().unwrap();
            sp.commit().unwrap();
        }
        tx.commit().unwrap();
        let tx = db.transaction().unwrap();
        tx.execute("DELETE FROM products WHERE id = ?1", [1])
            .unwrap();
        drop(tx); // rolled back, as rusqlite does
    });
    let stocks: Vec<i64> = db
        .prepare("SELECT stock FROM products ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap();
    assert_eq!(stocks, [9, 5]);
    let events = db_events(&collector, &client).await;
    let statements: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["statement"].as_str().unwrap())
        .collect();
    assert_eq!(
        statements,
        [
            "BEGIN IMMEDIATE",
            "UPDATE products SET stock = stock - 1 WHERE id = ?1",
            "SAVEPOINT sp1",
            "UPDATE products SET stock = 0 WHERE id = ?1",
            "ROLLBACK TO SAVEPOINT sp1",
            "RELEASE SAVEPOINT sp1",
            "COMMIT",
            "BEGIN DEFERRED",
            "DELETE FROM products WHERE id = ?1",
            "ROLLBACK",
        ]
    );
    assert!(events
        .iter()
        .all(|e| e["data"]["connection"] == id.as_str()));
}

#[tokio::test]
async fn nothing_is_recorded_outside_a_context_unsampled_or_with_capture_off() {
    let collector = FakeCollector::start().await;
    let off = RacewayClient::builder()
        .service_name("order")
        .server_url(&collector.url)
        .capture_queries(false)
        .build()
        .unwrap();
    let unsampled = RacewayClient::builder()
        .service_name("order")
        .server_url(&collector.url)
        .sample_rate(0.0)
        .build()
        .unwrap();
    let dir = tempdir::Dir::new("off");
    let db = open(&dir);
    let update = || {
        db.execute("UPDATE products SET stock = 3 WHERE id = ?1", [1])
            .unwrap()
    };
    assert_eq!(update(), 1);
    assert_eq!(in_context(&off, update), 1);
    assert_eq!(in_context(&unsampled, update), 1);
    off.flush().await;
    unsampled.flush().await;
    assert!(of_kind(&collector.events(), "db_query").is_empty());
    // Two connections have two ids.
    assert_ne!(
        open(&tempdir::Dir::new("other")).connection_id(),
        db.connection_id()
    );
}
