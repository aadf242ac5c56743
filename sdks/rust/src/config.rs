//! Options of a [`RacewayClient`](crate::RacewayClient), filled in from the environment with the
//! same names as every Raceway SDK, validated once at construction.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use crate::url_filter::{IgnorePaths, PropagateTo};

/// The collector used when neither `server_url` nor `RACEWAY_URL` is set.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8080";
const MAX_NAME_LENGTH: usize = 128;

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
    InvalidMaxRetries,
    InvalidRequestTimeout,
    InvalidPropagateTo,
    InvalidSampleRate,
    InvalidDebug,
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
            InvalidMaxRetries => "RACEWAY_INVALID_MAX_RETRIES",
            InvalidRequestTimeout => "RACEWAY_INVALID_REQUEST_TIMEOUT",
            InvalidPropagateTo => "RACEWAY_INVALID_PROPAGATE_TO",
            InvalidSampleRate => "RACEWAY_INVALID_SAMPLE_RATE",
            InvalidDebug => "RACEWAY_INVALID_DEBUG",
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
    /// Env `RACEWAY_SERVICE_NAME`. Required (1-128 characters) unless disabled.
    pub service_name: Option<String>,
    /// Collector base URL (`/v1/events` is appended). Env `RACEWAY_URL`.
    pub server_url: Option<String>,
    /// Sent as `Authorization: Bearer <api key>`. Env `RACEWAY_API_KEY`.
    pub api_key: Option<String>,
    /// No context, no events, no headers. Env `RACEWAY_DISABLED` (`1`, `true`, `yes`, `on`).
    pub disabled: Option<bool>,
    /// Which process of the service this is. Env `RACEWAY_INSTANCE`. Default `<hostname>:<pid>`.
    pub instance: Option<String>,
    /// Head sampling rate of new traces, 0.0-1.0. Env `RACEWAY_SAMPLE_RATE`. Default 1.0.
    pub sample_rate: Option<f64>,
    /// Transport problems on stderr. Env `RACEWAY_DEBUG`.
    pub debug: Option<bool>,
    /// Events per request to the collector (1-5000). Default 200.
    pub batch_size: Option<usize>,
    /// Longest time an event waits before its batch is sent. Default 1 s.
    pub flush_interval: Option<Duration>,
    /// Events held in memory at most; beyond it new events are dropped and counted. Default 10000.
    pub max_queue_size: Option<usize>,
    /// Retries of a batch after a network error, 408, 429 or 5xx (0-100). Default 5.
    pub max_retries: Option<u32>,
    /// Time limit of one request to the collector. Default 10 s.
    pub request_timeout: Option<Duration>,
    /// Outgoing URLs that receive trace headers. Env `RACEWAY_PROPAGATE_TO` (comma-separated
    /// hostnames, `host:port`, `*.suffix`, origins). Default: internal hosts only.
    pub propagate_to: Option<PropagateTo>,
    /// Server paths that are not traced. Default `/healthz`, `/health`, `/favicon.ico`.
    pub ignore_paths: Option<Vec<String>>,
}

/// A validated configuration with every default applied.
#[derive(Clone, Debug)]
pub struct Config {
    pub service_name: String,
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
    pub max_retries: u32,
    pub request_timeout: Duration,
    pub propagate_to: PropagateTo,
    pub ignore_paths: IgnorePaths,
}

/// Reads one environment variable; the environment is a function so tests need not touch the
/// process environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parse_bool(name: &str, raw: &str, code: ConfigErrorCode) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => fail(
            code,
            format!("{name} must be one of 1, true, yes, on, 0, false, no, off, got {raw:?}"),
        ),
    }
}

fn valid_name(raw: &str, source: &str, code: ConfigErrorCode) -> Result<String, ConfigError> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_LENGTH
        || name.chars().any(char::is_control)
    {
        return fail(
            code,
            format!("{source} must be 1-{MAX_NAME_LENGTH} characters without control characters, got {raw:?}"),
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

fn duration_in_range(
    value: Option<Duration>,
    default: Duration,
    name: &str,
    code: ConfigErrorCode,
) -> Result<Duration, ConfigError> {
    let value = value.unwrap_or(default);
    if value.is_zero() || value > Duration::from_secs(24 * 3600) {
        return fail(
            code,
            format!("{name} must be above 0 and at most 24 h, got {value:?}"),
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

fn default_instance() -> String {
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
        let disabled = match (self.disabled, env("RACEWAY_DISABLED")) {
            (Some(value), _) => value,
            (None, Some(raw)) => parse_bool("RACEWAY_DISABLED", &raw, C::InvalidDisabled)?,
            (None, None) => false,
        };
        let debug = match (self.debug, env("RACEWAY_DEBUG")) {
            (Some(value), _) => value,
            (None, Some(raw)) => parse_bool("RACEWAY_DEBUG", &raw, C::InvalidDebug)?,
            (None, None) => false,
        };
        let service_name = match (self.service_name, non_empty(env("RACEWAY_SERVICE_NAME"))) {
            (Some(name), _) => valid_name(&name, "service_name", C::InvalidServiceName)?,
            (None, Some(name)) => valid_name(&name, "RACEWAY_SERVICE_NAME", C::InvalidServiceName)?,
            (None, None) if disabled => "unknown_service".to_owned(),
            (None, None) => {
                return fail(
                    C::MissingServiceName,
                    "a service name is required: set service_name or RACEWAY_SERVICE_NAME",
                )
            }
        };
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
        Ok(Config {
            service_name,
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
                10_000,
                "max_queue_size",
                C::InvalidMaxQueueSize,
                1,
                10_000_000,
            )?,
            max_retries: in_range(
                self.max_retries,
                5,
                "max_retries",
                C::InvalidMaxRetries,
                0,
                100,
            )?,
            request_timeout: duration_in_range(
                self.request_timeout,
                Duration::from_secs(10),
                "request_timeout",
                C::InvalidRequestTimeout,
            )?,
            propagate_to,
            ignore_paths: IgnorePaths::new(self.ignore_paths),
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

/// A shared predicate over outgoing URLs, for [`PropagateTo::predicate`].
pub type UrlPredicate = Arc<dyn Fn(&Url) -> bool + Send + Sync>;

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
        let bad = env_of(&[("RACEWAY_DISABLED", "maybe")]);
        assert_eq!(
            Options::default().resolve_with_env(&bad).unwrap_err().code,
            ConfigErrorCode::InvalidDisabled
        );
    }
}
