//! Runs every vector file of the repository's `spec/vectors/`, read in place through
//! `CARGO_MANIFEST_DIR` (never a copy). A file without a runner fails the suite, so a concern
//! added to the contract cannot be skipped silently.

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::{HeaderMap, HeaderName, HeaderValue};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use raceway_client::clock::{decode_clock, encode_clock, ClockDecodeError, VectorClock};
use raceway_client::config::default_instance;
use raceway_client::db::{canonical_param, param_digest, DigestValue};
use raceway_client::delivery;
use raceway_client::propagation::{extract, inject, ExtractedContext, OutgoingContext};
use raceway_client::sampling;
use raceway_client::{ClientBuilder, Config, ConfigErrorCode, Options, PropagateTo, RacewayClient};
use serde_json::{json, Value};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/vectors")
}

type Runner = fn(&Value) -> Result<(), String>;

/// Every vector file and its runner.
const RUNNERS: &[(&str, Runner)] = &[
    ("extract", run_extract),
    ("clock-codec", run_clock_codec),
    ("clock-ops", run_clock_ops),
    ("inject", run_inject),
    ("events", run_events),
    ("sampling", run_sampling),
    ("propagate-to", run_propagate_to),
    ("delivery", run_delivery),
    ("config", run_config),
    ("param-digest", run_param_digest),
];

/// Concerns of the contract this SDK does not implement yet, with the reason: their files are
/// not run here, and a new file in neither list fails `every_vector_file_has_a_runner`.
const NOT_IMPLEMENTED: &[(&str, &str)] =
    &[("sql-accesses", "the collector parses SQL; no SDK does")];

fn load(name: &str) -> Value {
    let path = vectors_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs every case of a file; the failure message names each failing case by its id.
fn run_file(name: &str) {
    let runner = RUNNERS
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, runner)| *runner)
        .expect("a runner");
    let file = load(name);
    assert_eq!(file["name"], name, "the file's name field");
    let cases = file["cases"].as_array().expect("cases");
    assert!(!cases.is_empty(), "{name} has no cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let id = case["id"].as_str().unwrap_or("?");
            runner(case).err().map(|why| format!("{id}: {why}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases of {name}.json failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_vector_file_has_a_runner() {
    let mut files: Vec<String> = std::fs::read_dir(vectors_dir())
        .expect("spec/vectors next to the crate")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    files.sort();
    let missing: Vec<&String> = files
        .iter()
        .filter(|file| {
            !RUNNERS.iter().any(|(name, _)| name == file)
                && !NOT_IMPLEMENTED.iter().any(|(name, _)| name == file)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "vector files without a runner: {missing:?}"
    );
    assert!(files.len() >= 5, "found only {files:?}");
}

#[test]
fn extract_vectors() {
    run_file("extract");
}

#[test]
fn clock_codec_vectors() {
    run_file("clock-codec");
}

#[test]
fn clock_ops_vectors() {
    run_file("clock-ops");
}

#[test]
fn inject_vectors() {
    run_file("inject");
}

#[test]
fn events_vectors() {
    run_file("events");
}

#[test]
fn propagate_to_vectors() {
    run_file("propagate-to");
}

#[test]
fn sampling_vectors() {
    run_file("sampling");
}

#[test]
fn delivery_vectors() {
    run_file("delivery");
}

#[test]
fn config_vectors() {
    run_file("config");
}

#[test]
fn param_digest_vectors() {
    run_file("param-digest");
}

/// The value of a `param-digest` case as the Rust type a driver would bind.
fn param_value(input: &Value) -> Result<Box<dyn DigestValue>, String> {
    if let Some(int) = input.get("int").and_then(Value::as_str) {
        return match int.parse::<i128>() {
            Ok(n) => Ok(Box::new(n)),
            Err(_) => Ok(Box::new(int.parse::<u128>().map_err(|e| e.to_string())?)),
        };
    }
    if let Some(float) = input.get("float").and_then(Value::as_str) {
        let parsed: f64 = match float {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => other.parse().map_err(|e| format!("{other}: {e}"))?,
        };
        return Ok(Box::new(parsed));
    }
    if let Some(hex) = input.get("bytes").and_then(Value::as_str) {
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| e.to_string()))
            .collect::<Result<Vec<u8>, _>>()?;
        return Ok(Box::new(bytes));
    }
    let value = input.get("value").ok_or("no value in the input")?;
    // Scalars as the native Rust types, so the vectors pin what drivers bind.
    Ok(match value {
        Value::Null => Box::new(None::<i64>),
        Value::Bool(b) => Box::new(*b),
        Value::Number(n) if n.is_i64() => Box::new(n.as_i64().unwrap()),
        Value::Number(n) if n.is_u64() => Box::new(n.as_u64().unwrap()),
        Value::Number(n) => Box::new(n.as_f64().unwrap()),
        Value::String(s) => Box::new(s.clone()),
        other => Box::new(other.clone()),
    })
}

fn run_param_digest(case: &Value) -> Result<(), String> {
    let input = &case["input"];
    let key = input["key"].as_str().unwrap_or("raceway-digest-v1");
    let value = param_value(input)?;
    let canonical = canonical_param(&*value);
    check(json!(canonical), &case["expected"]["canonical"])?;
    check(
        json!(param_digest(&*value, key)),
        &case["expected"]["digest"],
    )?;
    // A JSON value gives the same digest as the native type (serde_json::Value binds).
    if let Some(json_value) = input.get("value") {
        check(
            json!(param_digest(json_value, key)),
            &case["expected"]["digest"],
        )?;
    }
    Ok(())
}

fn check(actual: Value, expected: &Value) -> Result<(), String> {
    if actual == *expected {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {actual}"))
    }
}

fn clock_of(value: &Value) -> VectorClock {
    value
        .as_object()
        .map(|entries| {
            entries
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().expect("counter")))
                .collect()
        })
        .unwrap_or_default()
}

fn clock_json(clock: &VectorClock) -> Value {
    Value::Object(
        clock
            .iter()
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect(),
    )
}

/// Flags as the vectors write them: exactly two lowercase hex digits, else `None`.
fn flags_of(value: &Value) -> Option<u8> {
    let text = value.as_str()?;
    let valid = text.len() == 2
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    valid.then(|| u8::from_str_radix(text, 16).ok()).flatten()
}

fn extracted_json(context: &ExtractedContext) -> Value {
    json!({
        "traceId": context.trace_id,
        "parentSpanId": context.parent_span_id,
        "traceFlags": context.trace_flags.map(|flags| format!("{flags:02x}")),
        "clock": context.clock.as_ref().map(clock_json),
        "clockDropped": context.clock_dropped,
        "tracestate": context.tracestate,
        "status": context.status.as_str(),
        "reasons": context.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    })
}

fn header_pairs(headers: &Value) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (name, value) in headers.as_object().expect("headers") {
        match value {
            Value::String(text) => pairs.push((name.clone(), text.clone())),
            Value::Array(items) => pairs.extend(
                items
                    .iter()
                    .map(|item| (name.clone(), item.as_str().expect("string").to_owned())),
            ),
            other => panic!("header value {other}"),
        }
    }
    pairs
}

/// The same headers in an `http::HeaderMap`, when every value is one HTTP allows.
fn header_map(pairs: &[(String, String)]) -> Option<HeaderMap> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(value.as_bytes()).ok()?;
        map.append(name, value);
    }
    Some(map)
}

fn run_extract(case: &Value) -> Result<(), String> {
    let pairs = header_pairs(&case["input"]["headers"]);
    check(extracted_json(&extract(&pairs)), &case["expected"])?;
    // The server reads an http::HeaderMap: it must extract the same.
    if let Some(map) = header_map(&pairs) {
        check(extracted_json(&extract(&map)), &case["expected"])
            .map_err(|why| format!("through HeaderMap: {why}"))?;
    }
    Ok(())
}

fn run_clock_codec(case: &Value) -> Result<(), String> {
    let input = &case["input"];
    match case["op"].as_str() {
        Some("encode") => {
            let clock = clock_of(&input["entries"]);
            let header = encode_clock(
                &clock,
                input["own"].as_str(),
                input["dropped"].as_u64().unwrap_or(0),
            );
            check(json!({ "header": header }), &case["expected"])
        }
        Some("decode") => {
            let actual = match decode_clock(input["header"].as_str().expect("header")) {
                Ok(decoded) => {
                    json!({ "ok": true, "entries": clock_json(&decoded.clock), "dropped": decoded.dropped })
                }
                Err(error) => json!({ "ok": false, "reason": match error {
                    ClockDecodeError::Invalid => "vc_invalid",
                    ClockDecodeError::Oversized => "vc_oversized",
                } }),
            };
            check(actual, &case["expected"])
        }
        op => Err(format!("unknown op {op:?}")),
    }
}

fn run_clock_ops(case: &Value) -> Result<(), String> {
    let input = &case["input"];
    match case["op"].as_str() {
        Some("increment") => {
            let mut clock = clock_of(&input["clock"]);
            clock.increment(input["component"].as_str().expect("component"));
            check(json!({ "clock": clock_json(&clock) }), &case["expected"])
        }
        Some("merge") => {
            let mut clock = clock_of(&input["a"]);
            clock.merge(&clock_of(&input["b"]));
            check(json!({ "clock": clock_json(&clock) }), &case["expected"])
        }
        Some("compare") => {
            let order = clock_of(&input["a"]).compare(&clock_of(&input["b"]));
            check(json!({ "order": order.as_str() }), &case["expected"])
        }
        op => Err(format!("unknown op {op:?}")),
    }
}

fn run_inject(case: &Value) -> Result<(), String> {
    let context = &case["input"]["context"];
    let clock = clock_of(&context["clock"]);
    let mut carrier: Vec<(String, String)> = case["input"]["carrier"]
        .as_object()
        .expect("carrier")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
        .collect();
    // Flags that are not two lowercase hex digits cannot be a `u8`: the Rust API cannot be
    // given them, which is the rule's "nothing is written".
    let flags = match &context["traceFlags"] {
        Value::Null => sampling::FLAG_SAMPLED,
        value => match flags_of(value) {
            Some(flags) => flags,
            None => {
                return check(
                    json!({ "headers": case["input"]["carrier"] }),
                    &case["expected"],
                )
            }
        },
    };
    let outgoing = OutgoingContext {
        trace_id: context["traceId"].as_str().expect("traceId"),
        span_id: context["spanId"].as_str().expect("spanId"),
        clock: &clock,
        own: context["own"].as_str(),
        clock_dropped: context["clockDropped"].as_u64().unwrap_or(0),
        tracestate: context["tracestate"].as_str(),
        trace_flags: flags,
    };
    // Twice: injecting again (a retried request) must change nothing.
    inject(&outgoing, &mut carrier);
    inject(&outgoing, &mut carrier);
    let mut names: Vec<String> = carrier
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort();
    let before = names.len();
    names.dedup();
    if names.len() != before {
        return Err(format!("a header was written twice: {carrier:?}"));
    }
    let actual: BTreeMap<String, String> = carrier.into_iter().collect();
    check(json!({ "headers": actual }), &case["expected"])?;
    // Through an http::HeaderMap (names lowercased), which the middleware writes into.
    let mut map = header_map(&header_pairs(&case["input"]["carrier"])).expect("valid carrier");
    inject(&outgoing, &mut map);
    let expected = case["expected"]["headers"].as_object().expect("headers");
    if map.len() != expected.len() {
        return Err(format!(
            "HeaderMap has {} headers, expected {}",
            map.len(),
            expected.len()
        ));
    }
    for (name, value) in expected {
        let copies: Vec<&HeaderValue> = map.get_all(name.as_str()).iter().collect();
        if copies.len() != 1 || copies[0].as_bytes() != value.as_str().unwrap_or("").as_bytes() {
            return Err(format!("HeaderMap {name}: {copies:?}, expected {value}"));
        }
    }
    Ok(())
}

fn run_events(case: &Value) -> Result<(), String> {
    let valid = common::schema::event_validator().is_valid(&case["input"]["event"]);
    check(json!({ "valid": valid }), &case["expected"])
}

fn run_propagate_to(case: &Value) -> Result<(), String> {
    let input = &case["input"];
    let url =
        reqwest::Url::parse(input["url"].as_str().expect("url")).map_err(|e| e.to_string())?;
    let setting = input["propagateTo"].as_str().map(str::to_owned);
    let options = Options {
        service_name: Some("api".into()),
        ..Options::default()
    };
    // Through the configuration, as RACEWAY_PROPAGATE_TO is read at startup.
    let env = move |name: &str| {
        (name == "RACEWAY_PROPAGATE_TO")
            .then(|| setting.clone())
            .flatten()
    };
    let actual = match options.resolve_with_env(&env) {
        Ok(config) => json!({ "propagate": config.propagate_to.matches(&url) }),
        Err(error) if error.code == ConfigErrorCode::InvalidPropagateTo => {
            json!({ "configError": true })
        }
        Err(error) => return Err(error.to_string()),
    };
    check(actual, &case["expected"])
}

fn run_sampling(case: &Value) -> Result<(), String> {
    let input = &case["input"];
    match case["op"].as_str() {
        Some("threshold") => {
            let threshold = sampling::threshold(input["rate"].as_f64().expect("rate"));
            check(
                json!({ "threshold": format!("{threshold:014x}") }),
                &case["expected"],
            )
        }
        Some("root") => {
            let sampled = sampling::is_sampled_root(
                input["traceId"].as_str().expect("traceId"),
                input["rate"].as_f64().expect("rate"),
            );
            check(json!({ "sampled": sampled }), &case["expected"])
        }
        Some("decide") => {
            let flags = sampling::decide_flags(
                input["traceId"].as_str().expect("traceId"),
                input["rate"].as_f64().expect("rate"),
                input["joined"].as_bool().expect("joined"),
                flags_of(&input["traceFlags"]),
            );
            check(
                json!({ "traceFlags": format!("{flags:02x}") }),
                &case["expected"],
            )
        }
        Some("parse") => {
            let actual = match sampling::parse_sample_rate(input["value"].as_str().expect("value"))
            {
                // Compared as numbers: JSON `1` and `1.0` are the same rate.
                Ok(rate) => {
                    let expected = &case["expected"];
                    let same = expected["ok"] == true && expected["rate"].as_f64() == rate;
                    return if same {
                        Ok(())
                    } else {
                        Err(format!("expected {expected}, got {rate:?}"))
                    };
                }
                Err(()) => json!({ "ok": false }),
            };
            check(actual, &case["expected"])
        }
        op => Err(format!("unknown op {op:?}")),
    }
}

fn run_delivery(case: &Value) -> Result<(), String> {
    let input = &case["input"];
    let now = |field: &str| {
        let ms = input[field].as_u64().expect("now_ms");
        UNIX_EPOCH + Duration::from_millis(ms)
    };
    let retry_after = |value: &Value, now: SystemTime| {
        value
            .as_str()
            .and_then(|header| delivery::parse_retry_after(header, now))
    };
    let millis = |delay: Option<Duration>| delay.map(|d| d.as_millis() as u64);
    let attempt = || u32::try_from(input["attempt"].as_u64().expect("attempt")).expect("u32");
    let random = || input["random"].as_f64().expect("random");
    let actual = match case["op"].as_str() {
        Some("classify") => {
            let status = match &input["status"] {
                Value::Null => None,
                status => Some(u16::try_from(status.as_u64().expect("status")).expect("u16")),
            };
            json!({ "outcome": delivery::classify(status).as_str() })
        }
        Some("retry_after") => {
            json!({ "delay_ms": millis(retry_after(&input["value"], now("now_ms"))) })
        }
        Some("backoff") => {
            json!({ "delay_ms": millis(Some(delivery::backoff_delay(attempt(), random()))) })
        }
        Some("retry_delay") => {
            let asked = retry_after(&input["retry_after"], now("now_ms"));
            let delay = delivery::retry_delay(attempt(), random(), asked);
            json!({ "delay_ms": millis(Some(delay)) })
        }
        op => return Err(format!("unknown op {op:?}")),
    };
    check(actual, &case["expected"])
}

mod common;

/// One option of `input.options`, named as in spec 7, given to the builder as Rust spells it.
fn with_option(builder: ClientBuilder, name: &str, value: &Value) -> Result<ClientBuilder, String> {
    let text = || {
        value
            .as_str()
            .ok_or(format!("{name}: {value} is not a string"))
    };
    let flag = || {
        value
            .as_bool()
            .ok_or(format!("{name}: {value} is not a boolean"))
    };
    let whole = || {
        value
            .as_u64()
            .ok_or(format!("{name}: {value} is not a whole number"))
    };
    let size =
        || whole().and_then(|n| usize::try_from(n).map_err(|_| format!("{name}: {n} > usize")));
    let millis = || whole().map(Duration::from_millis);
    Ok(match name {
        "service_name" => builder.service_name(text()?),
        "environment" => builder.environment(text()?),
        "version" => builder.version(text()?),
        "server_url" => builder.server_url(text()?),
        "api_key" => builder.api_key(text()?),
        "disabled" => builder.disabled(flag()?),
        "debug" => builder.debug(flag()?),
        "instance" => builder.instance(text()?),
        "sample_rate" => {
            builder.sample_rate(value.as_f64().ok_or(format!("sample_rate: {value}"))?)
        }
        "batch_size" => builder.batch_size(size()?),
        "flush_interval_ms" => builder.flush_interval(millis()?),
        "max_queue_size" => builder.max_queue_size(size()?),
        "max_queue_bytes" => builder.max_queue_bytes(whole()?),
        "max_retries" => builder.max_retries(
            u32::try_from(whole()?).map_err(|_| format!("max_retries: {value} > u32"))?,
        ),
        "request_timeout_ms" => builder.request_timeout(millis()?),
        "propagate_to" => builder.propagate_to(PropagateTo::parse_list(text()?)?),
        other => return Err(format!("unknown option {other:?}")),
    })
}

/// Every resolved setting, as `config.json` writes them.
fn settings_json(config: &Config) -> Value {
    json!({
        "service_name": config.service_name,
        "environment": config.environment,
        "version": config.version,
        "server_url": config.server_url,
        "endpoint": config.endpoint.as_str(),
        "api_key": config.api_key,
        "disabled": config.disabled,
        "debug": config.debug,
        "instance": config.instance,
        "sample_rate": config.sample_rate,
        "batch_size": config.batch_size,
        "flush_interval_ms": config.flush_interval.as_millis() as u64,
        "max_queue_size": config.max_queue_size,
        "max_queue_bytes": config.max_queue_bytes,
        "max_retries": config.max_retries,
        "request_timeout_ms": config.request_timeout.as_millis() as u64,
    })
}

fn run_config(case: &Value) -> Result<(), String> {
    let input = &case["input"];
    let mut builder = RacewayClient::builder();
    for (name, value) in input["options"].as_object().expect("options") {
        builder = with_option(builder, name, value)?;
    }
    // The case's environment and nothing else: the process environment is never read.
    let vars: BTreeMap<String, String> = input["env"]
        .as_object()
        .expect("env")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
        .collect();
    // The misspelt variables RacewayClient::new warns about (env_names::warn_misspelt logs
    // exactly these).
    let misspelt = raceway_client::env_names::misspelt_variables(vars.keys().map(String::as_str));
    let env = move |name: &str| vars.get(name).cloned();
    let mut actual = match builder.resolve_with_env(&env) {
        Ok(config) => json!({ "settings": settings_json(&config) }),
        Err(error) => json!({ "error": error.code.as_str() }),
    };
    if !misspelt.is_empty() && actual.get("settings").is_some() {
        actual["warnings"] = misspelt
            .into_iter()
            .map(|(variable, meant)| json!({ "variable": variable, "suggestion": meant }))
            .collect();
    }
    let mut expected = case["expected"].clone();
    if let Some(settings) = expected.get_mut("settings") {
        // null: the default `<host name>:<pid>`.
        if settings["instance"].is_null() {
            settings["instance"] = json!(default_instance());
        }
        // A rate is a double: JSON `1` and `1.0` are the same rate.
        let rate = settings["sample_rate"].as_f64().ok_or("sample_rate")?;
        settings["sample_rate"] = json!(rate);
    }
    check(actual, &expected)
}
