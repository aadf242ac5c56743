//! CPU per query of Raceway's database capture against the bare driver and against an
//! OpenTelemetry instrumentation of the same driver, measured in the same run.
//!
//! `cargo run --release -- [queries per round] [rounds]` (see bench/results/rust-sql-overhead.md).
//!
//! Drivers: sqlx 0.8 (SQLite pool) and rusqlite, on a SQLite file in a temp dir. Each query is
//! the docs' read-modify-write pair (`SELECT stock ... WHERE id = ?`, then `UPDATE products
//! SET stock = ? WHERE id = ?`). Variants:
//! - bare: the driver alone;
//! - raceway: `raceway_client::db::sqlx` / `db::rusqlite` in a sampled context, its events
//!   encoded, batched, gzipped and sent to a collector stub on loopback in the same process;
//! - otel: sqlx has no OpenTelemetry instrumentation of its own (its `tracing` output is log
//!   events, not spans), so each statement runs in a `tracing` span with the OpenTelemetry
//!   database attributes, exported through `tracing-opentelemetry` to the OpenTelemetry SDK
//!   (batch processor, in-memory exporter: no network).
//!
//! CPU is the process's (CLOCK_PROCESS_CPUTIME_ID: every thread, the exporters' included), on
//! a current-thread tokio runtime; the variants alternate within each round and the median
//! round is reported.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use opentelemetry_sdk::trace::SdkTracerProvider;
use raceway_client::RacewayClient;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

fn cpu_us() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e6 + ts.tv_nsec as f64 / 1e3
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    Bare,
    Raceway,
    Otel,
}

const VARIANTS: [Variant; 3] = [Variant::Bare, Variant::Raceway, Variant::Otel];
const SELECT: &str = "SELECT stock FROM products WHERE id = ?";
const UPDATE: &str = "UPDATE products SET stock = ? WHERE id = ?";

fn span(statement: &'static str) -> tracing::Span {
    let operation = statement.split(' ').next().unwrap_or("");
    tracing::info_span!(
        "db.query",
        otel.name = operation,
        otel.kind = "client",
        db.system.name = "sqlite",
        db.operation.name = operation,
        db.query.text = statement,
        db.namespace = "shop",
    )
}

struct Bench {
    raceway: RacewayClient,
    otel: tracing::Dispatch,
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

async fn sqlx_round(
    bench: &Bench,
    bare: &sqlx::SqlitePool,
    traced: &raceway_client::db::sqlx::SqlitePool,
    variant: Variant,
    n: usize,
) -> f64 {
    let run = async {
        for i in 0..n {
            let id = (i % 100) as i64 + 1;
            match variant {
                Variant::Bare => {
                    let (stock,): (i64,) = sqlx::query_as(SELECT)
                        .bind(id)
                        .fetch_one(bare)
                        .await
                        .unwrap();
                    sqlx::query(UPDATE)
                        .bind(stock)
                        .bind(id)
                        .execute(bare)
                        .await
                        .unwrap();
                }
                Variant::Raceway => {
                    use raceway_client::db::sqlx::{query, query_as};
                    let (stock,): (i64,) =
                        query_as(SELECT).bind(id).fetch_one(traced).await.unwrap();
                    query(UPDATE)
                        .bind(stock)
                        .bind(id)
                        .execute(traced)
                        .await
                        .unwrap();
                }
                Variant::Otel => {
                    let (stock,): (i64,) = sqlx::query_as(SELECT)
                        .bind(id)
                        .fetch_one(bare)
                        .instrument(span(SELECT))
                        .await
                        .unwrap();
                    sqlx::query(UPDATE)
                        .bind(stock)
                        .bind(id)
                        .execute(bare)
                        .instrument(span(UPDATE))
                        .await
                        .unwrap();
                }
            }
        }
    };
    measure(bench, variant, n, run).await
}

async fn rusqlite_round(
    bench: &Bench,
    bare: &rusqlite::Connection,
    traced: &raceway_client::db::rusqlite::Connection,
    variant: Variant,
    n: usize,
) -> f64 {
    let run = async {
        for i in 0..n {
            let id = (i % 100) as i64 + 1;
            match variant {
                Variant::Bare => {
                    let stock: i64 = bare
                        .prepare_cached(SELECT)
                        .unwrap()
                        .query_row([id], |r| r.get(0))
                        .unwrap();
                    bare.prepare_cached(UPDATE)
                        .unwrap()
                        .execute((stock, id))
                        .unwrap();
                }
                Variant::Raceway => {
                    let stock: i64 = traced.query_row(SELECT, [id], |r| r.get(0)).unwrap();
                    traced.execute(UPDATE, (stock, id)).unwrap();
                }
                Variant::Otel => {
                    let stock: i64 = span(SELECT)
                        .in_scope(|| {
                            bare.prepare_cached(SELECT)
                                .unwrap()
                                .query_row([id], |r| r.get(0))
                        })
                        .unwrap();
                    span(UPDATE)
                        .in_scope(|| bare.prepare_cached(UPDATE).unwrap().execute((stock, id)))
                        .unwrap();
                }
            }
            if i % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
    };
    measure(bench, variant, n, run).await
}

/// CPU µs per query (two statements per iteration) of one round, the events or spans it
/// produced exported before the clock stops.
async fn measure(
    bench: &Bench,
    variant: Variant,
    n: usize,
    run: impl std::future::Future<Output = ()>,
) -> f64 {
    let started = cpu_us();
    match variant {
        Variant::Bare => run.await,
        Variant::Raceway => {
            let ctx = bench.raceway.start_context(&Default::default()).unwrap();
            ctx.scope(run).await;
            bench.raceway.flush().await;
        }
        Variant::Otel => {
            let _guard = tracing::dispatcher::set_default(&bench.otel);
            run.await;
            let _ = bench.provider.force_flush();
        }
    }
    let per_query = (cpu_us() - started) / (2 * n) as f64;
    bench.exporter.reset();
    per_query
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// A collector stub: answers every batch with 200.
async fn collector_stub() -> String {
    let app = axum::Router::new().route(
        "/v1/events",
        axum::routing::post(|_: axum::body::Bytes| async { "{}" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(2000);
    let rounds = args.get(1).copied().unwrap_or(7);

    let url = collector_stub().await;
    let raceway = RacewayClient::builder()
        .service_name("bench")
        .server_url(url)
        .flush_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter.clone())
        .build();
    let otel = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    );
    let bench = Bench {
        raceway,
        otel,
        exporter,
        provider,
    };

    let dir = std::env::temp_dir().join(format!("raceway-sql-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bench.db");
    let setup = rusqlite::Connection::open(&file).unwrap();
    setup
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
             INSERT INTO products SELECT i, 1000000 FROM n;",
        )
        .unwrap();
    drop(setup);

    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&file);
    let bare_pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let traced_pool = raceway_client::db::sqlx::SqlitePool::new(bare_pool.clone());
    let bare_conn = rusqlite::Connection::open(&file).unwrap();
    let traced_conn = raceway_client::db::rusqlite::Connection::open(&file).unwrap();

    // Warm-up: statement caches, allocations, the connection to the stub.
    for variant in VARIANTS {
        sqlx_round(&bench, &bare_pool, &traced_pool, variant, 200).await;
        rusqlite_round(&bench, &bare_conn, &traced_conn, variant, 200).await;
    }
    let mut sqlx_results: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut rusqlite_results: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for round in 0..rounds {
        for k in 0..3 {
            let v = (round + k) % 3;
            sqlx_results[v]
                .push(sqlx_round(&bench, &bare_pool, &traced_pool, VARIANTS[v], n).await);
            rusqlite_results[v]
                .push(rusqlite_round(&bench, &bare_conn, &traced_conn, VARIANTS[v], n).await);
        }
    }
    println!("{n} iterations (2 statements each) per round, {rounds} rounds, median round\n");
    println!("| driver | bare µs/query | Raceway µs/query | OpenTelemetry µs/query | Raceway added | OpenTelemetry added | Raceway added / OpenTelemetry added |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, results) in [
        ("sqlx 0.8 (SQLite pool)", &sqlx_results),
        ("rusqlite 0.32", &rusqlite_results),
    ] {
        let [bare, raceway, otel] = [0, 1, 2].map(|v| median(results[v].clone()));
        println!(
            "| {name} | {bare:.1} | {raceway:.1} | {otel:.1} | {:.1} | {:.1} | {:.2} |",
            raceway - bare,
            otel - bare,
            (raceway - bare) / (otel - bare)
        );
    }
    let stats = bench.raceway.shutdown().await;
    let _ = bench.provider.shutdown();
    println!("\nRaceway transport: {stats:?}");
    let _ = std::fs::remove_dir_all(dir);
}
