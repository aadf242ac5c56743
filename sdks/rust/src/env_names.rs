//! Misspelt `RACEWAY_*` environment variables (spec 7, Unknown variables): a variable Raceway
//! does not read is ignored, so `RACEWAY_SERVER_URL` would silently leave the default collector
//! URL in place. [`crate::RacewayClient::new`] warns about the ones that look like a variable
//! Raceway reads.

/// Every variable of the spec's settings table, read by one SDK or another.
const SDK_VARIABLES: [&str; 13] = [
    "RACEWAY_SERVICE_NAME",
    "RACEWAY_ENVIRONMENT",
    "RACEWAY_VERSION",
    "RACEWAY_URL",
    "RACEWAY_API_KEY",
    "RACEWAY_DISABLED",
    "RACEWAY_DEBUG",
    "RACEWAY_INSTANCE",
    "RACEWAY_SAMPLE_RATE",
    "RACEWAY_PROPAGATE_TO",
    "RACEWAY_DB_CAPTURE",
    "RACEWAY_DB_CAPTURE_VALUES",
    "RACEWAY_DIGEST_KEY",
];

/// The collector's variables: often set in the same environment, never a misspelling.
const COLLECTOR_VARIABLES: [&str; 13] = [
    "RACEWAY_ALLOWED_HOSTS",
    "RACEWAY_ANALYSIS_DELAY",
    "RACEWAY_API_KEYS",
    "RACEWAY_CHECK_RESPONSES",
    "RACEWAY_CORS_ORIGINS",
    "RACEWAY_HOST",
    "RACEWAY_MAX_CLOCK_AHEAD",
    "RACEWAY_OTLP_EXPORT_HEADERS",
    "RACEWAY_OTLP_EXPORT_URL",
    "RACEWAY_PORT",
    "RACEWAY_READ_KEYS",
    "RACEWAY_RETENTION",
    "RACEWAY_STORAGE",
];

/// A setting's name used as a variable, for the settings whose variable is named otherwise.
const SETTING_NAMES: [(&str, &str); 3] = [
    ("RACEWAY_SERVER_URL", "RACEWAY_URL"),
    ("RACEWAY_CAPTURE_QUERIES", "RACEWAY_DB_CAPTURE"),
    ("RACEWAY_CAPTURE_VALUES", "RACEWAY_DB_CAPTURE_VALUES"),
];

const PREFIX: &str = "RACEWAY_";

/// `(variable, the variable probably meant)` for each of `names` that looks like a misspelt
/// Raceway variable, sorted by variable.
///
/// ```
/// use raceway_client::env_names::misspelt_variables;
/// let found = misspelt_variables(["RACEWAY_SERVER_URL", "RACEWAY_PORT", "PATH"]);
/// assert_eq!(found, [("RACEWAY_SERVER_URL".to_owned(), "RACEWAY_URL".to_owned())]);
/// ```
pub fn misspelt_variables<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = names
        .into_iter()
        .filter(|name| {
            name.starts_with(PREFIX)
                && !SDK_VARIABLES.contains(name)
                && !COLLECTOR_VARIABLES.contains(name)
        })
        .filter_map(|name| {
            let meant = SETTING_NAMES
                .iter()
                .find(|(setting, _)| *setting == name)
                .map(|(_, variable)| *variable)
                .or_else(|| closest(name))?;
            Some((name.to_owned(), meant.to_owned()))
        })
        .collect();
    found.sort();
    found
}

/// Logs one warning per misspelt variable of the process environment.
pub(crate) fn warn_misspelt() {
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    for (variable, meant) in misspelt_variables(names.iter().map(String::as_str)) {
        crate::transport::warn(&format!(
            "raceway: {variable} is set but not read (did you mean {meant}?)"
        ));
    }
}

/// The variable whose part after `RACEWAY_` is nearest by edit distance (case-insensitive), if
/// at most max(2, ceil(n / 3)) edits away, n the length of that part of `name`.
fn closest(name: &str) -> Option<&'static str> {
    let wanted = name[PREFIX.len()..].to_ascii_lowercase();
    let limit = 2.max(wanted.len().div_ceil(3));
    SDK_VARIABLES
        .iter()
        .map(|candidate| {
            let part = candidate[PREFIX.len()..].to_ascii_lowercase();
            (edit_distance(&wanted, &part), *candidate)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance with one row of memory: variable names are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, char_a) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, char_b) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(char_a != *char_b);
            current.push((previous[j + 1] + 1).min(current[j] + 1).min(substitution));
        }
        previous = current;
    }
    previous[b.len()]
}
