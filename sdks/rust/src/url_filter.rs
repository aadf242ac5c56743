//! Which outgoing URLs receive trace headers (`propagate_to`), and which server paths are not
//! traced (`ignore_paths`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use reqwest::Url;
use url::Host;

/// A shared predicate over outgoing URLs, for [`PropagateTo::predicate`].
pub type UrlPredicate = Arc<dyn Fn(&Url) -> bool + Send + Sync>;

#[derive(Clone)]
enum Rule {
    /// `*`: every host.
    Any,
    /// A hostname, matched exactly (any port).
    Host(String),
    /// `*.suffix`: subdomains of the suffix (stored with its leading dot).
    Suffix(String),
    /// `host:port` or `[ipv6]:port`.
    HostPort(String, u16),
    /// An address, or a CIDR range.
    Network(IpAddr, u8),
    /// A predicate given in code.
    Predicate(UrlPredicate),
}

/// Outgoing URLs that receive trace headers (spec 6). Client calls are recorded either way;
/// third-party hosts should not learn trace ids or clocks.
///
/// ```
/// use raceway_client::PropagateTo;
/// let url = |u: &str| reqwest::Url::parse(u).unwrap();
/// let rule = PropagateTo::default();
/// assert!(rule.matches(&url("http://inventory:3000/items")));
/// assert!(!rule.matches(&url("https://api.stripe.com/v1/charges")));
/// let rule = PropagateTo::parse_list("api.partner.example, *.corp.example, 10.0.0.0/8").unwrap();
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

/// A hostname pattern: dot-separated labels, none empty, of letters, digits, `-` and `_`.
fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl PropagateTo {
    /// The `RACEWAY_PROPAGATE_TO` grammar (spec 6): comma-separated entries, each `*`, a
    /// hostname, `*.suffix` (subdomains only), `host:port`, an IPv4 or IPv6 address
    /// (`[v6]:port` with a port), or a CIDR range. Empty entries are ignored; a list of none
    /// keeps the default rule. Anything else is refused with the entry named.
    pub fn parse_list(list: &str) -> Result<Self, String> {
        let rules = list
            .split(',')
            .map(|entry| entry.trim_matches([' ', '\t']))
            .filter(|entry| !entry.is_empty())
            .map(Self::parse_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PropagateTo {
            rules: (!rules.is_empty()).then_some(rules),
        })
    }

    fn parse_entry(entry: &str) -> Result<Rule, String> {
        let bad = |why: &str| Err(format!("entry {entry:?} {why}"));
        let pattern = entry.to_ascii_lowercase();
        if pattern == "*" {
            return Ok(Rule::Any);
        }
        if pattern.contains("://") {
            return bad("is an origin; give a host pattern");
        }
        if let Some((address, prefix)) = pattern.split_once('/') {
            let Ok(ip) = address.parse::<IpAddr>() else {
                return bad("is neither a host nor a CIDR range");
            };
            let max = if ip.is_ipv4() { 32 } else { 128 };
            return match prefix.parse::<u8>() {
                Ok(bits) if prefix.bytes().all(|b| b.is_ascii_digit()) && bits <= max => {
                    Ok(Rule::Network(ip, bits))
                }
                _ => bad("has an invalid CIDR prefix"),
            };
        }
        if let Some(rest) = pattern.strip_prefix('[') {
            let Some((address, after)) = rest.split_once(']') else {
                return bad("has an unclosed bracket");
            };
            let Ok(ip) = address.parse::<Ipv6Addr>() else {
                return bad("is not an IPv6 address");
            };
            return match after {
                "" => Ok(Rule::Network(IpAddr::V6(ip), 128)),
                _ => match after.strip_prefix(':').and_then(parse_port) {
                    Some(port) => Ok(Rule::HostPort(format!("[{ip}]"), port)),
                    None => bad("has an invalid port"),
                },
            };
        }
        if let Ok(ip) = pattern.parse::<IpAddr>() {
            let bits = if ip.is_ipv4() { 32 } else { 128 };
            return Ok(Rule::Network(ip, bits));
        }
        if let Some(suffix) = pattern.strip_prefix("*.") {
            return if is_hostname(suffix) {
                Ok(Rule::Suffix(format!(".{suffix}")))
            } else {
                bad("must be *. followed by a hostname")
            };
        }
        if let Some((host, port)) = pattern.split_once(':') {
            return match (is_hostname(host), parse_port(port)) {
                (true, Some(port)) => Ok(Rule::HostPort(host.to_owned(), port)),
                _ => bad("must be host:port with a numeric port"),
            };
        }
        if is_hostname(&pattern) {
            Ok(Rule::Host(pattern))
        } else {
            bad("is not a hostname")
        }
    }

    /// Every outgoing call gets trace headers.
    pub fn all() -> Self {
        PropagateTo {
            rules: Some(vec![Rule::Any]),
        }
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
        let host = TargetHost::of(url);
        rules.iter().any(|rule| match rule {
            Rule::Any => true,
            Rule::Host(name) => host.name.as_deref() == Some(name.as_str()),
            Rule::Suffix(suffix) => host
                .name
                .as_deref()
                .is_some_and(|name| name.ends_with(suffix.as_str())),
            Rule::HostPort(name, port) => host.port == Some(*port) && host.display == *name,
            Rule::Network(network, bits) => {
                host.ip.is_some_and(|ip| in_network(ip, *network, *bits))
            }
            // A user predicate that panics must not break the outgoing call.
            Rule::Predicate(predicate) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| predicate(url)))
                    .unwrap_or(false)
            }
        })
    }

    /// The default rule (spec 6): loopback, private and link-local addresses (IPv4, IPv6, and
    /// IPv4-mapped IPv6 judged by the IPv4 address), single-label names (service names),
    /// `localhost`, and names under `.localhost`, `.local`, `.internal`, `.svc`.
    pub fn is_internal(url: &Url) -> bool {
        let host = TargetHost::of(url);
        if let Some(ip) = host.ip {
            return is_internal_ip(ip);
        }
        let Some(name) = host.name.as_deref() else {
            return false;
        };
        name == "localhost"
            || !name.contains('.')
            || [".localhost", ".local", ".internal", ".svc"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
    }
}

/// The host of a URL in the forms the rules compare.
struct TargetHost {
    /// A domain, lowercase, without the root dot.
    name: Option<String>,
    ip: Option<IpAddr>,
    /// `name`, the IPv4 address, or `[v6]`: what `host:port` entries name.
    display: String,
    port: Option<u16>,
}

impl TargetHost {
    fn of(url: &Url) -> Self {
        let port = url.port_or_known_default();
        match url.host() {
            Some(Host::Domain(domain)) => {
                let name = domain.to_ascii_lowercase();
                let name = name.strip_suffix('.').unwrap_or(&name).to_owned();
                TargetHost {
                    display: name.clone(),
                    name: Some(name),
                    ip: None,
                    port,
                }
            }
            Some(Host::Ipv4(ip)) => TargetHost {
                name: None,
                ip: Some(IpAddr::V4(ip)),
                display: ip.to_string(),
                port,
            },
            Some(Host::Ipv6(ip)) => TargetHost {
                name: None,
                ip: Some(IpAddr::V6(ip)),
                display: format!("[{ip}]"),
                port,
            },
            None => TargetHost {
                name: None,
                ip: None,
                display: String::new(),
                port,
            },
        }
    }
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

fn is_internal_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || in_network(IpAddr::V4(ip), IpAddr::V4(Ipv4Addr::new(100, 64, 0, 0)), 10)
        }
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_internal_ip(IpAddr::V4(v4)),
            None => {
                let v6 = IpAddr::V6(ip);
                ip.is_loopback()
                    || in_network(
                        v6,
                        IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)),
                        7,
                    )
                    || in_network(
                        v6,
                        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)),
                        10,
                    )
            }
        },
    }
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
    fn a_panicking_predicate_sends_no_headers() {
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
