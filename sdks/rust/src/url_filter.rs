//! Which outgoing URLs receive trace headers (`propagate_to`), and which server paths are not
//! traced (`ignore_paths`).

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

use reqwest::Url;

use crate::config::UrlPredicate;

#[derive(Clone)]
enum Rule {
    Host(String),
    HostPort(String),
    Suffix(String),
    Origin(String),
    Predicate(UrlPredicate),
}

/// Outgoing URLs that receive trace headers. Client calls are recorded either way; third-party
/// hosts should not learn trace ids or clocks.
///
/// ```
/// use raceway_client::PropagateTo;
/// let url = |u: &str| reqwest::Url::parse(u).unwrap();
/// let rule = PropagateTo::default();
/// assert!(rule.matches(&url("http://inventory:3000/items")));
/// assert!(!rule.matches(&url("https://api.stripe.com/v1/charges")));
/// let rule = PropagateTo::parse_list("api.partner.example, *.corp.example").unwrap();
/// assert!(rule.matches(&url("https://x.corp.example/")));
/// ```
#[derive(Clone, Default)]
pub struct PropagateTo {
    /// `None`: the default rule (internal hosts).
    rules: Option<Vec<Rule>>,
}

impl fmt::Debug for PropagateTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rules {
            None => f.write_str("PropagateTo(default)"),
            Some(rules) => write!(f, "PropagateTo({} rules)", rules.len()),
        }
    }
}

impl PropagateTo {
    /// A list of hostnames, `host:port`, `*.suffix` wildcards (subdomains only) and origins
    /// (`https://api.example.com`), comma-separated as in `RACEWAY_PROPAGATE_TO`. Replaces the
    /// default rule.
    pub fn parse_list(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(Self::parse_entry)
            .collect::<Result<Vec<_>, _>>()
            .map(|rules| PropagateTo { rules: Some(rules) })
    }

    fn parse_entry(entry: &str) -> Result<Rule, String> {
        if entry.chars().any(char::is_whitespace) {
            return Err(format!("entry {entry:?} must not contain spaces"));
        }
        let pattern = entry.to_ascii_lowercase();
        if pattern.contains("://") {
            let url = Url::parse(&pattern)
                .map_err(|_| format!("entry {entry:?} is not a valid origin"))?;
            return Ok(Rule::Origin(url.origin().ascii_serialization()));
        }
        if let Some(suffix) = pattern.strip_prefix('*') {
            return Ok(Rule::Suffix(suffix.to_owned()));
        }
        if pattern.contains(':') && !pattern.starts_with('[') {
            return Ok(Rule::HostPort(pattern));
        }
        Ok(Rule::Host(pattern))
    }

    /// A predicate of your own; combine it with [`PropagateTo::is_internal`] to extend the
    /// default rule rather than replace it.
    pub fn predicate(predicate: impl Fn(&Url) -> bool + Send + Sync + 'static) -> Self {
        PropagateTo {
            rules: Some(vec![Rule::Predicate(Arc::new(predicate))]),
        }
    }

    /// True when `url` receives trace headers.
    pub fn matches(&self, url: &Url) -> bool {
        let Some(rules) = &self.rules else {
            return Self::is_internal(url);
        };
        let host = host_of(url);
        rules.iter().any(|rule| match rule {
            Rule::Host(name) => host == *name,
            Rule::HostPort(name) => url
                .port_or_known_default()
                .is_some_and(|port| format!("{host}:{port}") == *name),
            Rule::Suffix(suffix) => host.ends_with(suffix.as_str()),
            Rule::Origin(origin) => url.origin().ascii_serialization() == *origin,
            // A user predicate that panics must not break the outgoing call.
            Rule::Predicate(predicate) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| predicate(url)))
                    .unwrap_or(false)
            }
        })
    }

    /// The default rule: loopback, single-label hostnames (service names), `*.local`,
    /// `*.internal`, and the private IPv4 ranges.
    pub fn is_internal(url: &Url) -> bool {
        let host = host_of(url);
        if host.is_empty() {
            return false;
        }
        if host == "localhost" || host.ends_with(".localhost") || host == "::1" {
            return true;
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return ip.is_loopback() || ip.is_private();
        }
        if host.contains(':') {
            return false;
        }
        !host.contains('.') || host.ends_with(".local") || host.ends_with(".internal")
    }
}

fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.strip_suffix('.').unwrap_or(host).to_owned()
}

/// Server paths that are not traced: an entry matches the path exactly or as a whole-segment
/// prefix (`/health` ignores `/health/live`, not `/healthcheck`).
#[derive(Clone, Debug)]
pub struct IgnorePaths(Vec<String>);

impl IgnorePaths {
    pub(crate) fn new(paths: Option<Vec<String>>) -> Self {
        IgnorePaths(paths.unwrap_or_else(|| {
            ["/healthz", "/health", "/favicon.ico"]
                .map(String::from)
                .to_vec()
        }))
    }

    /// True when the request path is not traced.
    pub fn matches(&self, path: &str) -> bool {
        self.0.iter().any(|entry| {
            path.strip_prefix(entry.as_str()).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with('/') || entry.ends_with('/')
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    #[test]
    fn default_rule_keeps_headers_inside() {
        for inside in [
            "http://127.0.0.1:1/",
            "http://[::1]/",
            "http://inventory/",
            "http://db.internal/",
            "http://10.1.2.3/",
        ] {
            assert!(PropagateTo::default().matches(&url(inside)), "{inside}");
        }
        for outside in [
            "https://api.stripe.com/",
            "http://8.8.8.8/",
            "http://[2001:db8::1]/",
        ] {
            assert!(!PropagateTo::default().matches(&url(outside)), "{outside}");
        }
    }

    #[test]
    fn lists_and_predicates() {
        let rule = PropagateTo::parse_list("api.example.com:8443,https://pay.example").unwrap();
        assert!(rule.matches(&url("https://api.example.com:8443/x")));
        assert!(!rule.matches(&url("https://api.example.com/x")));
        assert!(rule.matches(&url("https://pay.example/charge")));
        assert!(PropagateTo::parse_list("a b").is_err());
        let panicking = PropagateTo::predicate(|_| panic!("user bug"));
        assert!(!panicking.matches(&url("http://x/")));
    }

    #[test]
    fn ignore_paths_match_whole_segments() {
        let ignore = IgnorePaths::new(None);
        assert!(ignore.matches("/health"));
        assert!(ignore.matches("/health/live"));
        assert!(!ignore.matches("/healthcheck"));
    }
}
