//! Options of a [`RacewayClient`](crate::RacewayClient), filled in from the environment with the
//! same names as every Raceway SDK, validated once at construction.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::otel_resource::{otel_environment, otel_resource_attributes, otel_service_version};
use crate::url_filter::{IgnorePaths, PropagateTo};

/// Kept here for the paths that name it `config::UrlPredicate`; it belongs to `url_filter`.
pub use crate::url_filter::UrlPredicate;

/// The collector used when neither `server_url` nor `RACEWAY_URL` is set.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8080";
/// Events held in memory at most when `max_queue_size` is not set.
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 100_000;
/// Bytes of encoded events held in memory at most when `max_queue_bytes` is not set: 64 MiB.
pub const DEFAULT_MAX_QUEUE_BYTES: u64 = 64 * 1024 * 1024;
/// The name a disabled client given none has (it is never sent).
const DISABLED_SERVICE_NAME: &str = "unknown_service";
const MAX_NAME_LENGTH: usize = 128;
/// The longest `flush_interval` and `request_timeout`, 2^31 - 1 ms as in every SDK (spec 7).
const MAX_INTERVAL: Duration = Duration::from_millis(2_147_483_647);
/// The bounds of `max_queue_bytes` (spec 7): 1 KiB to 4 GiB.
const MAX_QUEUE_BYTES_RANGE: (u64, u64) = (1024, 1 << 32);

/// A stable code for every configuration Raceway refuses, the same codes as the other SDKs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorCode {
    MissingServiceName,
    InvalidServiceName,
    InvalidUrl,
    InvalidApiKey,
    InvalidDisabled,
    InvalidInstance,
    InvalidBatchSize,
    InvalidFlushInterval,
    InvalidMaxQueueSize,
    InvalidMaxQueueBytes,
    InvalidMaxRetries,
    InvalidRequestTimeout,
    InvalidPropagateTo,
    InvalidSampleRate,
    InvalidDebug,
    InvalidDbCapture,
    InvalidDbCaptureValues,
    InvalidDigestKey,
    InvalidEnvironment,
    InvalidVersion,
}

impl ConfigErrorCode {
    /// The code as written in every SDK (`RACEWAY_INVALID_URL`).
    pub fn as_str(self) -> &'static str {
        use ConfigErrorCode::*;
        match self {
            MissingServiceName => "RACEWAY_MISSING_SERVICE_NAME",
            InvalidServiceName => "RACEWAY_INVALID_SERVICE_NAME",
            InvalidUrl => "RACEWAY_INVALID_URL",
            InvalidApiKey => "RACEWAY_INVALID_API_KEY",
            InvalidDisabled => "RACEWAY_INVALID_DISABLED",
            InvalidInstance => "RACEWAY_INVALID_INSTANCE",
            InvalidBatchSize => "RACEWAY_INVALID_BATCH_SIZE",
            InvalidFlushInterval => "RACEWAY_INVALID_FLUSH_INTERVAL",
            InvalidMaxQueueSize => "RACEWAY_INVALID_MAX_QUEUE_SIZE",
            InvalidMaxQueueBytes => "RACEWAY_INVALID_MAX_QUEUE_BYTES",
            InvalidMaxRetries => "RACEWAY_INVALID_MAX_RETRIES",
            InvalidRequestTimeout => "RACEWAY_INVALID_REQUEST_TIMEOUT",
            InvalidPropagateTo => "RACEWAY_INVALID_PROPAGATE_TO",
            InvalidSampleRate => "RACEWAY_INVALID_SAMPLE_RATE",
            InvalidDebug => "RACEWAY_INVALID_DEBUG",
            InvalidDbCapture => "RACEWAY_INVALID_DB_CAPTURE",
            InvalidDbCaptureValues => "RACEWAY_INVALID_DB_CAPTURE_VALUES",
            InvalidDigestKey => "RACEWAY_INVALID_DIGEST_KEY",
            InvalidEnvironment => "RACEWAY_INVALID_ENVIRONMENT",
            InvalidVersion => "RACEWAY_INVALID_VERSION",
        }
    }
}

/// A configuration Raceway refuses, with a stable [`ConfigErrorCode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub code: ConfigErrorCode,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ConfigError {}

fn fail<T>(code: ConfigErrorCode, message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError {
        code,
        message: message.into(),
    })
}

/// Options given in code; every one left out is taken from the environment, then the default.
/// An option given in code always wins over the environment.
#[derive(Clone, Default)]
pub struct Options {
    /// Env `RACEWAY_SERVICE_NAME`, then `OTEL_SERVICE_NAME` (so that a service traced by both has
    /// one name). Required unless disabled: trimmed, 1-128 characters, none of them a control,
    /// zero-width or bidirectional-formatting character.
    pub service_name: Option<String>,
    /// Where the service runs (`production`, `staging`). Env `RACEWAY_ENVIRONMENT`, else
    /// `deployment.environment.name` (or `deployment.environment`) in
    /// `OTEL_RESOURCE_ATTRIBUTES`. Default none.
    pub environment: Option<String>,
    /// The service's version. Env `RACEWAY_VERSION`, else `service.version` in
    /// `OTEL_RESOURCE_ATTRIBUTES`. Default none.
    pub version: Option<String>,
    /// Collector base URL (`/v1/events` is appended). Env `RACEWAY_URL`.
    pub server_url: Option<String>,
    /// Sent as `Authorization: Bearer <api key>`. Env `RACEWAY_API_KEY`.
    pub api_key: Option<String>,
    /// No context, no events, no headers. Env `RACEWAY_DISABLED` (`1`, `true`, `yes`, `on`;
    /// `0`, `false`, `no`, `off`), else OpenTelemetry's `OTEL_SDK_DISABLED` (true only for
    /// `true`, in any case).
    pub disabled: Option<bool>,
    /// Which process of the service this is (1-128 characters, as `service_name`). Env
    /// `RACEWAY_INSTANCE`. Default `<hostname>:<pid>` ([`default_instance`]).
    pub instance: Option<String>,
    /// Head sampling rate of new traces, 0.0-1.0. Env `RACEWAY_SAMPLE_RATE`. Default 1.0.
    pub sample_rate: Option<f64>,
    /// Verbose diagnostics: `tracing` events of level debug, target `raceway` (the warnings are
    /// emitted either way). Env `RACEWAY_DEBUG`.
    pub debug: Option<bool>,
    /// Events per request to the collector (1-5000). Default 200.
    pub batch_size: Option<usize>,
    /// Longest time an event waits before its batch is sent (1 ms to 2^31 - 1 ms). Default 1 s.
    pub flush_interval: Option<Duration>,
    /// Events held in memory at most, in flight and waiting for a retry included; beyond it new
    /// events are dropped and counted (1-10,000,000). Default 100,000.
    pub max_queue_size: Option<usize>,
    /// Bytes of encoded events held in memory at most, in flight and waiting for a retry
    /// included; beyond it new events are dropped and counted (1 KiB-4 GiB). Default 64 MiB.
    pub max_queue_bytes: Option<u64>,
    /// Retries of a batch after a network error, 408, 429 or 5xx (0-100). Default: no limit, a
    /// batch is retried (full-jitter backoff, at most 5 s apart) until the collector takes it,
    /// so that an outage loses nothing while the queue has room (spec 4.2).
    pub max_retries: Option<u32>,
    /// Time limit of one request to the collector (1 ms to 2^31 - 1 ms). Default 10 s.
    pub request_timeout: Option<Duration>,
    /// Outgoing URLs that receive trace headers. Env `RACEWAY_PROPAGATE_TO` (comma-separated
    /// hostnames, `host:port`, `*.suffix`, origins). Default: internal hosts only.
    pub propagate_to: Option<PropagateTo>,
    /// Server paths that are not traced. Default `/healthz`, `/health`, `/favicon.ico`.
    pub ignore_paths: Option<Vec<String>>,
    /// Database statements run through an instrumented driver (the `sqlx-postgres`,
    /// `sqlx-sqlite` and `rusqlite` features) are recorded as `db_query` events (spec 4.3).
    /// Env `RACEWAY_DB_CAPTURE`. Default true.
    pub capture_queries: Option<bool>,
    /// Query parameters are sent as raw values besides their digests. Env
    /// `RACEWAY_DB_CAPTURE_VALUES`. Default false: no parameter value leaves the service.
    pub capture_values: Option<bool>,
    /// The HMAC key of the parameter digests; services that compare digests share it. Env
    /// `RACEWAY_DIGEST_KEY`. Default `raceway-digest-v1`. Trimmed, not empty, never logged.
    pub digest_key: Option<String>,
}

/// A validated configuration with every default applied.
#[derive(Clone, Debug)]
pub struct Config {
    pub service_name: String,
    /// The deployment environment, `None` when none is configured.
    pub environment: Option<String>,
    /// The service's version, `None` when none is configured.
    pub version: Option<String>,
    /// Normalised collector base URL, without a trailing slash.
    pub server_url: String,
    /// `<server_url>/v1/events`.
    pub endpoint: Url,
    pub api_key: Option<String>,
    pub disabled: bool,
    pub instance: String,
    pub sample_rate: f64,
    pub debug: bool,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub max_queue_size: usize,
    pub max_queue_bytes: u64,
    /// `None`: retried without limit (spec 4.2).
    pub max_retries: Option<u32>,
    pub request_timeout: Duration,
    pub propagate_to: PropagateTo,
    pub ignore_paths: IgnorePaths,
    /// Record the statements of instrumented database drivers (spec 4.3).
    pub capture_queries: bool,
    /// Send raw parameter values besides their digests.
    pub capture_values: bool,
    /// The key of the parameter digests.
    pub digest_key: DigestKey,
}

pub use crate::digest::DEFAULT_DIGEST_KEY;

/// The key of the parameter digests: a secret, so its `Debug` never shows it.
#[derive(Clone)]
pub struct DigestKey {
    text: String,
    digester: crate::digest::Digester,
}

impl DigestKey {
    fn new(text: &str) -> Self {
        DigestKey {
            text: text.to_owned(),
            digester: crate::digest::Digester::new(text),
        }
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The key, ready to digest with.
    pub fn digester(&self) -> &crate::digest::Digester {
        &self.digester
    }
}

impl PartialEq for DigestKey {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Default for DigestKey {
    fn default() -> Self {
        DigestKey::new(DEFAULT_DIGEST_KEY)
    }
}

impl fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DigestKey(<redacted>)")
    }
}

fn resolve_digest_key(option: Option<String>, env: Env<'_>) -> Result<DigestKey, ConfigError> {
    let (raw, source) = match option {
        Some(key) => (key, "digest_key"),
        None => match non_empty(env("RACEWAY_DIGEST_KEY")) {
            Some(key) => (key, "RACEWAY_DIGEST_KEY"),
            None => return Ok(DigestKey::default()),
        },
    };
    let key = raw.trim();
    if key.is_empty() {
        // The key itself is never echoed: it is a secret.
        return fail(
            ConfigErrorCode::InvalidDigestKey,
            format!("{source} must not be empty"),
        );
    }
    Ok(DigestKey::new(key))
}

/// Reads one environment variable; the environment is a function so tests need not touch the
/// process environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The value of a variable, trimmed; `None` when unset, empty or blank (spec 7: a blank value
/// counts as unset).
fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A boolean variable (spec 7 c): `None` when unset or blank.
fn env_bool(env: Env<'_>, name: &str, code: ConfigErrorCode) -> Result<Option<bool>, ConfigError> {
    let Some(raw) = non_empty(env(name)) else {
        return Ok(None);
    };
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "0" | "false" | "no" | "off" => Ok(Some(false)),
        _ => fail(
            code,
            format!("{name} must be one of 1, true, yes, on, 0, false, no, off, got {raw:?}"),
        ),
    }
}

/// OpenTelemetry's `OTEL_SDK_DISABLED`, read as OpenTelemetry reads it: true only for `true` in
/// any case; anything else is false, never an error (it is not Raceway's variable).
fn otel_sdk_disabled(env: Env<'_>) -> bool {
    non_empty(env("OTEL_SDK_DISABLED")).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Characters no name may hold (spec 7, `event.schema.json`): controls, zero-width characters
/// and bidirectional formatting, which would make a name in the UI read as another.
fn forbidden_in_names(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{feff}')
}

/// Whether a trimmed name keeps the rules of names (spec 4): 1-128 characters, none invisible.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME_LENGTH
        && !name.chars().any(forbidden_in_names)
}

/// The option, else Raceway's variable, else OpenTelemetry's resource attribute (spec 7 e). The
/// first two are refused when they break the name rules; OpenTelemetry's value is then ignored
/// instead (never an error: it is not Raceway's variable).
fn resolve_resource_name(
    option: Option<String>,
    option_name: &str,
    env_value: Option<String>,
    variable: &str,
    otel_value: Option<&str>,
    code: ConfigErrorCode,
) -> Result<Option<String>, ConfigError> {
    if let Some(raw) = option {
        return valid_name(&raw, option_name, code).map(Some);
    }
    if let Some(raw) = non_empty(env_value) {
        return valid_name(&raw, variable, code).map(Some);
    }
    Ok(otel_value
        .map(str::trim)
        .filter(|name| is_valid_name(name))
        .map(str::to_owned))
}

fn valid_name(raw: &str, source: &str, code: ConfigErrorCode) -> Result<String, ConfigError> {
    let name = raw.trim();
    if !is_valid_name(name) {
        return fail(
            code,
            format!(
                "{source} must be 1-{MAX_NAME_LENGTH} characters without control, zero-width or \
                 bidirectional-formatting characters, got {raw:?}"
            ),
        );
    }
    Ok(name.to_owned())
}

fn in_range<T: PartialOrd + fmt::Display + Copy>(
    value: Option<T>,
    default: T,
    name: &str,
    code: ConfigErrorCode,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    let value = value.unwrap_or(default);
    if value < min || value > max {
        return fail(
            code,
            format!("{name} must be from {min} to {max}, got {value}"),
        );
    }
    Ok(value)
}

/// A time in whole milliseconds from 1 to 2^31 - 1 (spec 7), as every SDK takes it.
fn duration_in_range(
    value: Option<Duration>,
    default: Duration,
    name: &str,
    code: ConfigErrorCode,
) -> Result<Duration, ConfigError> {
    let value = value.unwrap_or(default);
    if value < Duration::from_millis(1) || value > MAX_INTERVAL {
        return fail(
            code,
            format!(
                "{name} must be from 1 ms to {} ms, got {value:?}",
                MAX_INTERVAL.as_millis()
            ),
        );
    }
    Ok(value)
}

fn resolve_server_url(raw: &str) -> Result<(String, Url), ConfigError> {
    let invalid = |why: &str| {
        fail(
            ConfigErrorCode::InvalidUrl,
            format!("serverUrl {why}: {raw:?}"),
        )
    };
    let Ok(base) = Url::parse(raw.trim()) else {
        return invalid("is not a valid URL");
    };
    if base.scheme() != "http" && base.scheme() != "https" {
        return invalid("must be an http: or https: URL");
    }
    if !base.username().is_empty() || base.password().is_some() {
        return fail(
            ConfigErrorCode::InvalidUrl,
            "serverUrl must not contain credentials; use api_key instead",
        );
    }
    if base.query().is_some() || base.fragment().is_some() {
        return invalid("must not have a query or fragment");
    }
    // A base path is kept (a collector behind a reverse proxy at /raceway).
    let path = base.path().trim_end_matches('/');
    let origin = base.origin().ascii_serialization();
    let server_url = format!("{origin}{path}");
    match Url::parse(&format!("{server_url}/v1/events")) {
        Ok(endpoint) => Ok((server_url, endpoint)),
        Err(_) => invalid("is not a valid URL"),
    }
}

/// True when the transport can send to `https:` collectors (the `rustls` feature, on by
/// default).
const HTTPS_SUPPORTED: bool = cfg!(feature = "rustls");

/// Refuses an `https:` collector when the crate was built without TLS, rather than a transport
/// whose every request fails.
fn check_tls_support(endpoint: &Url) -> Result<(), ConfigError> {
    if endpoint.scheme() == "https" && !HTTPS_SUPPORTED {
        return fail(
            ConfigErrorCode::InvalidUrl,
            format!(
                "serverUrl {endpoint} is https, but raceway-client was built without TLS: \
                 enable its `rustls` feature (on by default) or use an http collector"
            ),
        );
    }
    Ok(())
}

fn resolve_api_key(raw: Option<String>, source: &str) -> Result<Option<String>, ConfigError> {
    let Some(key) = raw.map(|k| k.trim().to_owned()) else {
        return Ok(None);
    };
    // An empty value is what an unset variable interpolated into the options looks like.
    if key.is_empty() {
        return Ok(None);
    }
    if !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        // The key itself is never echoed: it is a secret.
        return fail(
            ConfigErrorCode::InvalidApiKey,
            format!("{source} must be visible ASCII characters without spaces"),
        );
    }
    Ok(Some(key))
}

/// The instance of a client given none: `<host name>:<pid>`, its last 128 characters.
pub fn default_instance() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let instance = format!("{host}:{}", std::process::id());
    let skip = instance.chars().count().saturating_sub(MAX_NAME_LENGTH);
    instance.chars().skip(skip).collect()
}

impl Options {
    /// Validates the options against the process environment.
    pub fn resolve(self) -> Result<Config, ConfigError> {
        self.resolve_with_env(&|name| std::env::var(name).ok())
    }

    /// Validates the options against the given environment.
    pub fn resolve_with_env(self, env: Env<'_>) -> Result<Config, ConfigError> {
        use ConfigErrorCode as C;
        // The option, else Raceway's variable, else OpenTelemetry's (spec 7 c).
        let disabled = match self.disabled {
            Some(value) => value,
            None => match env_bool(env, "RACEWAY_DISABLED", C::InvalidDisabled)? {
                Some(value) => value,
                None => otel_sdk_disabled(env),
            },
        };
        let debug = match self.debug {
            Some(value) => value,
            None => env_bool(env, "RACEWAY_DEBUG", C::InvalidDebug)?.unwrap_or(false),
        };
        // OpenTelemetry's variable comes after Raceway's, so that a service traced by both has
        // one name.
        let service_name = match self.service_name {
            Some(name) => valid_name(&name, "service_name", C::InvalidServiceName)?,
            None => match ["RACEWAY_SERVICE_NAME", "OTEL_SERVICE_NAME"]
                .into_iter()
                .find_map(|variable| Some((variable, non_empty(env(variable))?)))
            {
                Some((variable, name)) => valid_name(&name, variable, C::InvalidServiceName)?,
                None if disabled => DISABLED_SERVICE_NAME.to_owned(),
                None => {
                    return fail(
                        C::MissingServiceName,
                        "a service name is required: set service_name or RACEWAY_SERVICE_NAME (or OTEL_SERVICE_NAME)",
                    )
                }
            },
        };
        let otel_resource = otel_resource_attributes(env("OTEL_RESOURCE_ATTRIBUTES").as_deref());
        let environment = resolve_resource_name(
            self.environment,
            "environment",
            env("RACEWAY_ENVIRONMENT"),
            "RACEWAY_ENVIRONMENT",
            otel_environment(otel_resource.as_ref()),
            C::InvalidEnvironment,
        )?;
        let version = resolve_resource_name(
            self.version,
            "version",
            env("RACEWAY_VERSION"),
            "RACEWAY_VERSION",
            otel_service_version(otel_resource.as_ref()),
            C::InvalidVersion,
        )?;
        let instance = match (self.instance, non_empty(env("RACEWAY_INSTANCE"))) {
            (Some(name), _) => valid_name(&name, "instance", C::InvalidInstance)?,
            (None, Some(name)) => valid_name(&name, "RACEWAY_INSTANCE", C::InvalidInstance)?,
            (None, None) => default_instance(),
        };
        let url = self
            .server_url
            .or_else(|| non_empty(env("RACEWAY_URL")))
            .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned());
        let (server_url, endpoint) = resolve_server_url(&url)?;
        if !disabled {
            check_tls_support(&endpoint)?;
        }
        let api_key = match self.api_key {
            Some(key) => resolve_api_key(Some(key), "api_key")?,
            None => resolve_api_key(env("RACEWAY_API_KEY"), "RACEWAY_API_KEY")?,
        };
        let sample_rate = match (self.sample_rate, env("RACEWAY_SAMPLE_RATE")) {
            (Some(rate), _) => rate,
            (None, Some(raw)) => crate::sampling::parse_sample_rate(&raw)
                .map_err(|()| ConfigError {
                    code: C::InvalidSampleRate,
                    message: format!(
                        "RACEWAY_SAMPLE_RATE must be a decimal from 0 to 1, got {raw:?}"
                    ),
                })?
                .unwrap_or(1.0),
            (None, None) => 1.0,
        };
        if !(0.0..=1.0).contains(&sample_rate) || sample_rate.is_nan() {
            return fail(
                C::InvalidSampleRate,
                format!("sample_rate must be from 0 to 1, got {sample_rate}"),
            );
        }
        let propagate_to = match (self.propagate_to, non_empty(env("RACEWAY_PROPAGATE_TO"))) {
            (Some(rule), _) => rule,
            (None, Some(raw)) => PropagateTo::parse_list(&raw).map_err(|message| ConfigError {
                code: C::InvalidPropagateTo,
                message: format!("RACEWAY_PROPAGATE_TO {message}"),
            })?,
            (None, None) => PropagateTo::default(),
        };
        let capture_queries = match self.capture_queries {
            Some(value) => value,
            None => env_bool(env, "RACEWAY_DB_CAPTURE", C::InvalidDbCapture)?.unwrap_or(true),
        };
        let capture_values = match self.capture_values {
            Some(value) => value,
            None => env_bool(env, "RACEWAY_DB_CAPTURE_VALUES", C::InvalidDbCaptureValues)?
                .unwrap_or(false),
        };
        let digest_key = resolve_digest_key(self.digest_key, env)?;
        Ok(Config {
            service_name,
            environment,
            version,
            server_url,
            endpoint,
            api_key,
            disabled,
            instance,
            sample_rate,
            debug,
            batch_size: in_range(
                self.batch_size,
                200,
                "batch_size",
                C::InvalidBatchSize,
                1,
                5000,
            )?,
            flush_interval: duration_in_range(
                self.flush_interval,
                Duration::from_secs(1),
                "flush_interval",
                C::InvalidFlushInterval,
            )?,
            max_queue_size: in_range(
                self.max_queue_size,
                DEFAULT_MAX_QUEUE_SIZE,
                "max_queue_size",
                C::InvalidMaxQueueSize,
                1,
                10_000_000,
            )?,
            max_queue_bytes: in_range(
                self.max_queue_bytes,
                DEFAULT_MAX_QUEUE_BYTES,
                "max_queue_bytes",
                C::InvalidMaxQueueBytes,
                MAX_QUEUE_BYTES_RANGE.0,
                MAX_QUEUE_BYTES_RANGE.1,
            )?,
            max_retries: self
                .max_retries
                .map(|n| in_range(Some(n), 0, "max_retries", C::InvalidMaxRetries, 0, 100))
                .transpose()?,
            request_timeout: duration_in_range(
                self.request_timeout,
                Duration::from_secs(10),
                "request_timeout",
                C::InvalidRequestTimeout,
            )?,
            propagate_to,
            ignore_paths: IgnorePaths::new(self.ignore_paths),
            capture_queries,
            capture_values,
            digest_key,
        })
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("service_name", &self.service_name)
            .field("server_url", &self.server_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn environment_fills_what_code_leaves_out() {
        let env = env_of(&[
            ("RACEWAY_SERVICE_NAME", "checkout"),
            ("RACEWAY_URL", "http://collector:9000/raceway/"),
            ("RACEWAY_SAMPLE_RATE", "0.25"),
            ("RACEWAY_DEBUG", "yes"),
        ]);
        let config = Options::default().resolve_with_env(&env).unwrap();
        assert_eq!(config.service_name, "checkout");
        assert_eq!(config.server_url, "http://collector:9000/raceway");
        assert_eq!(
            config.endpoint.as_str(),
            "http://collector:9000/raceway/v1/events"
        );
        assert_eq!(config.sample_rate, 0.25);
        assert!(config.debug);
        let config = Options {
            service_name: Some("api".into()),
            ..Options::default()
        }
        .resolve_with_env(&env)
        .unwrap();
        assert_eq!(config.service_name, "api");
    }

    #[test]
    fn https_collectors_need_the_tls_feature() {
        let env = env_of(&[("RACEWAY_SERVICE_NAME", "checkout")]);
        let https = |disabled| {
            Options {
                server_url: Some("https://collector.example:8443/raceway".into()),
                disabled: Some(disabled),
                ..Options::default()
            }
            .resolve_with_env(&env)
        };
        if HTTPS_SUPPORTED {
            let config = https(false).expect("https is accepted with the rustls feature");
            assert_eq!(
                config.endpoint.as_str(),
                "https://collector.example:8443/raceway/v1/events"
            );
        } else {
            let error = https(false).unwrap_err();
            assert_eq!(error.code, ConfigErrorCode::InvalidUrl);
            assert!(error.message.contains("rustls"), "{error}");
        }
        // A disabled client sends nothing: its URL needs no TLS.
        assert!(https(true).is_ok());
    }

    #[test]
    fn refusals_carry_stable_codes() {
        let none = env_of(&[]);
        let code = |options: Options| options.resolve_with_env(&none).unwrap_err().code;
        assert_eq!(
            code(Options::default()),
            ConfigErrorCode::MissingServiceName
        );
        let named = || Options {
            service_name: Some("api".into()),
            ..Options::default()
        };
        assert_eq!(
            code(Options {
                server_url: Some("ftp://x".into()),
                ..named()
            }),
            ConfigErrorCode::InvalidUrl
        );
        assert_eq!(
            code(Options {
                api_key: Some("a b".into()),
                ..named()
            }),
            ConfigErrorCode::InvalidApiKey
        );
        assert_eq!(
            code(Options {
                sample_rate: Some(1.5),
                ..named()
            }),
            ConfigErrorCode::InvalidSampleRate
        );
        assert_eq!(
            code(Options {
                batch_size: Some(0),
                ..named()
            }),
            ConfigErrorCode::InvalidBatchSize
        );
        let disabled = Options {
            disabled: Some(true),
            ..Options::default()
        };
        assert!(disabled.resolve_with_env(&none).unwrap().disabled);
        assert_eq!(
            code(Options {
                max_queue_bytes: Some(1023),
                ..named()
            }),
            ConfigErrorCode::InvalidMaxQueueBytes
        );
        assert_eq!(
            code(Options {
                max_retries: Some(101),
                ..named()
            }),
            ConfigErrorCode::InvalidMaxRetries
        );
        let bad = env_of(&[("RACEWAY_DISABLED", "maybe")]);
        assert_eq!(
            Options::default().resolve_with_env(&bad).unwrap_err().code,
            ConfigErrorCode::InvalidDisabled
        );
    }

    #[test]
    fn otel_service_name_is_the_fallback() {
        let both = env_of(&[
            ("RACEWAY_SERVICE_NAME", "checkout"),
            ("OTEL_SERVICE_NAME", "otel-checkout"),
        ]);
        let name = |options: Options, env: Env<'_>| options.resolve_with_env(env).unwrap();
        assert_eq!(name(Options::default(), &both).service_name, "checkout");
        let otel = env_of(&[
            ("RACEWAY_SERVICE_NAME", " "),
            ("OTEL_SERVICE_NAME", "billing"),
        ]);
        assert_eq!(name(Options::default(), &otel).service_name, "billing");
        let named = Options {
            service_name: Some("api".into()),
            ..Options::default()
        };
        assert_eq!(name(named, &otel).service_name, "api");
        let bad = env_of(&[("OTEL_SERVICE_NAME", "a\u{7}b")]);
        let error = Options::default().resolve_with_env(&bad).unwrap_err();
        assert_eq!(error.code, ConfigErrorCode::InvalidServiceName);
        assert!(error.message.contains("OTEL_SERVICE_NAME"), "{error}");
    }

    #[test]
    fn names_refuse_invisible_and_reordering_characters() {
        let none = env_of(&[]);
        let named = |name: String| {
            Options {
                service_name: Some(name.clone()),
                instance: Some(name),
                ..Options::default()
            }
            .resolve_with_env(&none)
        };
        let refused = [
            0x00, 0x1f, 0x7f, 0x9f, 0x200b, 0x200f, 0x202a, 0x202e, 0x2060, 0x2064, 0x2066, 0x2069,
            0xfeff,
        ];
        for code in refused {
            let c = char::from_u32(code).unwrap();
            let error = named(format!("a{c}b")).unwrap_err();
            assert_eq!(error.code, ConfigErrorCode::InvalidServiceName, "{code:#x}");
        }
        // Their neighbours are fine (U+2065 is unassigned, U+00A0 a visible space).
        for code in [
            0x20, 0xa0, 0x200a, 0x2010, 0x2029, 0x202f, 0x2065, 0x206a, 0xfefe,
        ] {
            let c = char::from_u32(code).unwrap();
            assert!(named(format!("a{c}b")).is_ok(), "{code:#x}");
        }
        let error = Options {
            service_name: Some("api".into()),
            instance: Some("pod\u{2066}-1".into()),
            ..Options::default()
        }
        .resolve_with_env(&none)
        .unwrap_err();
        assert_eq!(error.code, ConfigErrorCode::InvalidInstance);
    }

    #[test]
    fn otel_sdk_disabled_is_read_as_opentelemetry_reads_it() {
        let disabled = |pairs: &'static [(&'static str, &'static str)]| {
            Options::default()
                .resolve_with_env(&env_of(pairs))
                .map(|config| config.disabled)
        };
        assert_eq!(disabled(&[("OTEL_SDK_DISABLED", " True ")]), Ok(true));
        // Anything but `true` is false, never an error: a name is then required.
        let missing = disabled(&[("OTEL_SDK_DISABLED", "1")]).unwrap_err();
        assert_eq!(missing.code, ConfigErrorCode::MissingServiceName);
        // Raceway's variable wins, a blank one is unset.
        let both = &[("RACEWAY_DISABLED", "no"), ("OTEL_SDK_DISABLED", "true")];
        assert!(disabled(both).is_err(), "enabled, so a name is required");
        let blank = &[("RACEWAY_DISABLED", " \t"), ("OTEL_SDK_DISABLED", "TRUE")];
        assert_eq!(disabled(blank), Ok(true));
    }

    #[test]
    fn times_are_whole_milliseconds_up_to_2_pow_31() {
        let none = env_of(&[]);
        let with = |flush: Duration, timeout: Duration| {
            Options {
                service_name: Some("api".into()),
                flush_interval: Some(flush),
                request_timeout: Some(timeout),
                ..Options::default()
            }
            .resolve_with_env(&none)
            .map_err(|error| error.code)
        };
        let ms = Duration::from_millis;
        assert!(with(ms(1), ms(2_147_483_647)).is_ok());
        assert_eq!(
            with(Duration::from_micros(999), ms(1)).unwrap_err(),
            ConfigErrorCode::InvalidFlushInterval
        );
        assert_eq!(
            with(ms(1), ms(2_147_483_648)).unwrap_err(),
            ConfigErrorCode::InvalidRequestTimeout
        );
    }

    #[test]
    fn transport_defaults_match_the_other_sdks() {
        let config = Options {
            service_name: Some("api".into()),
            ..Options::default()
        }
        .resolve_with_env(&env_of(&[]))
        .unwrap();
        assert_eq!(config.max_queue_size, 100_000);
        assert_eq!(config.max_queue_bytes, 64 * 1024 * 1024);
        assert_eq!(config.max_retries, None, "retried without limit");
    }
}
