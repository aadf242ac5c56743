//! The tower layer's overhead per request against the same axum handler without it, and against
//! OpenTelemetry's usual axum setup, in the same run.
//!
//! `cargo bench --bench layer_overhead` (optionally `-- <requests per round> <rounds>`). Each
//! round serves the same requests in-process (`oneshot` on the router, no sockets, so the
//! layer's cost is not hidden under the network's) through every variant, in rotating order:
//!
//! - bare: the router alone;
//! - raceway, new trace / joined trace: `RacewayLayer` (sample rate 1), the joined requests
//!   carrying `traceparent` and `X-Raceway-VC` of a sampled caller; the client sends its events
//!   to a collector on loopback in the same runtime (JSON, batching, gzip, HTTP);
//! - raceway, unsampled: `RacewayLayer` of a client with sample rate 0 (no event, the context
//!   still set and the response's `X-Raceway-Trace-Id` still answered);
//! - otel, new trace / joined trace / unsampled: tower-http's `TraceLayer` with a span per request
//!   whose parent is extracted from `traceparent` (W3C trace context), recorded by
//!   tracing-opentelemetry into an OpenTelemetry SDK tracer provider (sampler
//!   `ParentBased(TraceIdRatioBased(1))`, or `(0)` for unsampled) with a batch span processor.
//!   Its exporter encodes each batch as OTLP/JSON and gzips it, then discards it: the work of
//!   Raceway's transport before the network, without the network, so a lower bound for
//!   OpenTelemetry.
//!
//! Every variant yields to the runtime every 64 requests. CPU time is the process's (every
//! thread: OpenTelemetry's export thread, the loopback collector) over the requests and the
//! variant's flush of what they queued; wall time is the requests' alone. Prints a Markdown
//! table of the medians of the rounds.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use flate2::write::GzEncoder;
use flate2::Compression;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};
use opentelemetry_sdk::Resource;
use raceway_client::middleware::RacewayLayer;
use raceway_client::RacewayClient;
use tower::ServiceExt;
use tower_http::trace::TraceLayer;
use tracing::instrument::WithSubscriber;
use tracing::Dispatch;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

async fn handler() -> &'static str {
    "ok"
}

fn app() -> Router {
    Router::new().route("/items/{id}", get(handler))
}

async fn serve_requests(router: &Router, n: usize, with_headers: bool) -> Duration {
    let started = Instant::now();
    for i in 0..n {
        let mut request = Request::get(format!("/items/{}", i % 100));
        if with_headers {
            request = request
                .header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .header("x-raceway-vc", r#"{"web#0a1b2c3d":5}"#);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // A server yields to other tasks between requests; without it the transport task on
        // this single-threaded runtime would never run and every event would be dropped.
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    started.elapsed()
}

/// CPU time of the whole process (every thread), which `std` does not expose.
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec and the clock id is a constant of the platform.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// The OpenTelemetry side's exporter: what OTLP/HTTP JSON with gzip does before the network
/// (the conversion to OTLP messages, JSON, gzip), then the batch is discarded.
#[derive(Debug, Default)]
struct OtlpJsonGzipDiscard {
    resource: ResourceAttributesWithSchema,
    counts: Arc<SpanCounts>,
}

/// What an exporter encoded: spans, and those of them continuing a caller's trace.
#[derive(Debug, Default)]
struct SpanCounts {
    spans: AtomicUsize,
    children: AtomicUsize,
}

impl SpanExporter for OtlpJsonGzipDiscard {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let count = batch.len();
        let children = batch
            .iter()
            .filter(|span| span.parent_span_id != SpanId::INVALID)
            .count();
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let result = serde_json::to_vec(&request)
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
            .and_then(|json| {
                // The same compression as Raceway's transport.
                let mut gzip =
                    GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::fast());
                std::io::Write::write_all(&mut gzip, &json)
                    .and_then(|()| gzip.finish())
                    .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
            })
            .map(|_gzipped| {
                self.counts.spans.fetch_add(count, Ordering::Relaxed);
                self.counts.children.fetch_add(children, Ordering::Relaxed);
            });
        std::future::ready(result)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

/// An OpenTelemetry tracer provider sampling every new trace (`ratio` 1) or none (0), its
/// `tracing` subscriber, and the counts of what its exporter encoded.
fn otel_pipeline(ratio: f64, queue: usize) -> (SdkTracerProvider, Dispatch, Arc<SpanCounts>) {
    let exporter = OtlpJsonGzipDiscard::default();
    let counts = Arc::clone(&exporter.counts);
    // A queue as large as a round, so that no span is dropped (Raceway's queue holds them too).
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(queue)
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("bench").build())
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))))
        .with_span_processor(processor)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    (provider, dispatch, counts)
}

/// tower-http's `TraceLayer` for HTTP with a span per request that continues the caller's trace,
/// as an axum service traced with OpenTelemetry is set up.
fn otel_app() -> Router {
    app().layer(
        TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
            let span = tracing::info_span!(
                "request",
                method = %request.method(),
                uri = %request.uri(),
                version = ?request.version(),
            );
            let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
            span.set_parent(parent)
                .expect("the OpenTelemetry layer records the request span");
            span
        }),
    )
}

/// What records a variant's requests, and flushes what they queued.
enum Recorder {
    None,
    Raceway(RacewayClient),
    Otel(SdkTracerProvider, Dispatch),
}

struct Variant {
    name: &'static str,
    router: Router,
    with_headers: bool,
    recorder: Recorder,
    cpu_ns: Vec<f64>,
    wall_ns: Vec<f64>,
}

impl Variant {
    /// Serves `n` requests; (CPU ns of the requests and the flush, wall ns of the requests).
    async fn run(&self, n: usize) -> (Duration, Duration) {
        let cpu = process_cpu_time();
        let requests = serve_requests(&self.router, n, self.with_headers);
        let wall = match &self.recorder {
            Recorder::Otel(_, dispatch) => requests.with_subscriber(dispatch.clone()).await,
            _ => requests.await,
        };
        match &self.recorder {
            Recorder::None => {}
            Recorder::Raceway(client) => client.flush().await,
            Recorder::Otel(provider, _) => provider.force_flush().expect("span processor flush"),
        }
        (process_cpu_time() - cpu, wall)
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with('-')).collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(7);

    // A collector that accepts every batch.
    let sink = Router::new().route("/v1/events", post(|| async { StatusCode::OK }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, sink).await.unwrap() });

    let client = |rate: f64| {
        RacewayClient::builder()
            .service_name("bench")
            .server_url(url.clone())
            .sample_rate(rate)
            .build()
            .unwrap()
    };
    let sampled = client(1.0);
    let unsampled = client(0.0);
    let (otel_provider, otel_dispatch, otel_counts) = otel_pipeline(1.0, n);
    let (otel_unsampled_provider, otel_unsampled_dispatch, otel_unsampled_counts) =
        otel_pipeline(0.0, n);

    let variant = |name, router, with_headers, recorder| Variant {
        name,
        router,
        with_headers,
        recorder,
        cpu_ns: vec![],
        wall_ns: vec![],
    };
    let traced = app().layer(RacewayLayer::new(&sampled));
    let otel = otel_app();
    let mut variants = vec![
        variant("bare", app(), false, Recorder::None),
        variant(
            "raceway, new trace",
            traced.clone(),
            false,
            Recorder::Raceway(sampled.clone()),
        ),
        variant(
            "raceway, joined trace",
            traced,
            true,
            Recorder::Raceway(sampled.clone()),
        ),
        variant(
            "raceway, unsampled",
            app().layer(RacewayLayer::new(&unsampled)),
            false,
            Recorder::Raceway(unsampled.clone()),
        ),
        variant(
            "otel, new trace",
            otel.clone(),
            false,
            Recorder::Otel(otel_provider.clone(), otel_dispatch.clone()),
        ),
        variant(
            "otel, joined trace",
            otel.clone(),
            true,
            Recorder::Otel(otel_provider.clone(), otel_dispatch),
        ),
        variant(
            "otel, unsampled",
            otel,
            false,
            Recorder::Otel(otel_unsampled_provider.clone(), otel_unsampled_dispatch),
        ),
    ];

    // Warm-up: allocator, connection to the collector, code paths.
    for v in &variants {
        v.run(n / 10).await;
    }
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.rotate_left(round % variants.len());
        for index in order {
            let (cpu, wall) = variants[index].run(n).await;
            variants[index]
                .cpu_ns
                .push(cpu.as_nanos() as f64 / n as f64);
            variants[index]
                .wall_ns
                .push(wall.as_nanos() as f64 / n as f64);
        }
    }
    let sampled_stats = sampled.shutdown().await;
    let unsampled_stats = unsampled.shutdown().await;
    otel_provider.shutdown().expect("tracer provider shutdown");
    otel_unsampled_provider
        .shutdown()
        .expect("tracer provider shutdown");

    println!("{n} requests per variant and round, {rounds} rounds, medians, µs per request\n");
    println!(
        "| variant | CPU µs/request | wall µs/request | CPU overhead µs (vs bare) | \
         overhead vs OpenTelemetry's on the same path |"
    );
    println!("|---|---:|---:|---:|---:|");
    let bare = median(&variants[0].cpu_ns);
    let otel_overhead = |path: &str| {
        let name = format!("otel, {path}");
        let otel = variants.iter().find(|v| v.name == name).expect("otel path");
        median(&otel.cpu_ns) - bare
    };
    for v in &variants {
        let cpu = median(&v.cpu_ns);
        let (overhead, versus) = match v.name.split_once(", ") {
            None => ("n/a".to_string(), "n/a".to_string()),
            Some(("otel", _)) => (format!("{:.2}", (cpu - bare) / 1e3), "1.00×".to_string()),
            Some((_, path)) => (
                format!("{:.2}", (cpu - bare) / 1e3),
                format!("{:.2}×", (cpu - bare) / otel_overhead(path)),
            ),
        };
        println!(
            "| {} | {:.2} | {:.2} | {overhead} | {versus} |",
            v.name,
            cpu / 1e3,
            median(&v.wall_ns) / 1e3,
        );
    }
    println!(
        "\nRaceway delivered {} events and dropped {}, {} of either from the unsampled client; \
         OpenTelemetry encoded {} spans, {} of them continuing the caller's trace, {} from the \
         unsampled provider.",
        sampled_stats.delivered + unsampled_stats.delivered,
        sampled_stats.dropped + unsampled_stats.dropped,
        unsampled_stats.delivered + unsampled_stats.dropped,
        otel_counts.spans.load(Ordering::Relaxed),
        otel_counts.children.load(Ordering::Relaxed),
        otel_unsampled_counts.spans.load(Ordering::Relaxed),
    );
}
