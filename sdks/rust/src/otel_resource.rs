//! OpenTelemetry's `OTEL_RESOURCE_ATTRIBUTES` (spec 7 e): a service traced by both Raceway and
//! OpenTelemetry is configured once, so Raceway takes its environment and version from there
//! when its own settings leave them out.

use std::collections::HashMap;

/// The attributes of `OTEL_RESOURCE_ATTRIBUTES` (`key=value` items, comma-separated, values
/// percent-encoded), or `None` when it is unset or malformed: OpenTelemetry then discards the
/// whole value, and so does Raceway (never an error: it is not Raceway's variable).
pub(crate) fn otel_resource_attributes(value: Option<&str>) -> Option<HashMap<String, String>> {
    let mut attributes = HashMap::new();
    for item in value?.split(',') {
        if item.trim().is_empty() {
            continue;
        }
        let (key, raw) = item.split_once('=')?;
        let key = key.trim();
        if key.is_empty() {
            return None;
        }
        attributes.insert(key.to_owned(), percent_decode(raw.trim())?);
    }
    Some(attributes)
}

/// `%XX` sequences decoded to bytes, the result read as UTF-8; `None` for a `%` without two
/// hexadecimal digits or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The deployment environment OpenTelemetry's resource names: `deployment.environment.name`
/// (current semantic conventions), else the older `deployment.environment`.
pub(crate) fn otel_environment(attributes: Option<&HashMap<String, String>>) -> Option<&str> {
    let attributes = attributes?;
    attributes
        .get("deployment.environment.name")
        .or_else(|| attributes.get("deployment.environment"))
        .map(String::as_str)
}

/// The service version OpenTelemetry's resource names (`service.version`).
pub(crate) fn otel_service_version(attributes: Option<&HashMap<String, String>>) -> Option<&str> {
    attributes?.get("service.version").map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_items_and_discards_a_malformed_value_whole() {
        let parsed = otel_resource_attributes(Some(" service.version = 1%2B2 ,, a=b")).unwrap();
        assert_eq!(otel_service_version(Some(&parsed)), Some("1+2"));
        assert_eq!(otel_resource_attributes(Some("a=1,b")), None);
        assert_eq!(otel_resource_attributes(Some("a=%4")), None);
        assert_eq!(otel_resource_attributes(Some("a=%ff")), None);
        assert_eq!(otel_resource_attributes(None), None);
    }
}
