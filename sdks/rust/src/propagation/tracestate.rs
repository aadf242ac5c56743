use std::collections::HashSet;

use super::carrier::trim_ows;

const MAX_MEMBERS: usize = 32;
const MAX_LENGTH: usize = 512;

/// W3C Trace Context level 2: `key = (lcalpha / DIGIT) 0*255(keychar)`, where keychar is
/// `[a-z0-9_\-*/@]` (a multi-tenant key is no longer a grammar of its own).
fn is_valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 256
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|&b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
        })
}

/// 1..256 printable ASCII characters except `,` and `=`, not ending in a space.
fn is_valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 256
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        && bytes[bytes.len() - 1] != b' '
}

/// Validates and normalises `tracestate` copies (spec 2.3): joined with `,`, members trimmed,
/// empty members dropped, a member whose key was already seen dropped (the first one wins).
/// The limits count the members kept. `Ok(None)` when nothing is left, `Err(())` when the whole value must
/// be dropped (`tracestate_invalid`).
///
/// ```
/// use raceway_client::propagation::parse_tracestate;
/// assert_eq!(parse_tracestate(&["rojo=1 ", " congo=2"]), Ok(Some("rojo=1,congo=2".into())));
/// assert_eq!(parse_tracestate(&["rojo=1,rojo=2"]), Ok(Some("rojo=1".into())));
/// assert_eq!(parse_tracestate(&["rojo"]), Err(()));
/// ```
#[allow(clippy::result_unit_err)]
pub fn parse_tracestate(copies: &[&str]) -> Result<Option<String>, ()> {
    let mut out = String::new();
    let mut keys = HashSet::new();
    let mut members = 0;
    for member in copies.iter().flat_map(|c| c.split(',')).map(trim_ows) {
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=').ok_or(())?;
        if !is_valid_key(key) || !is_valid_value(value) {
            return Err(());
        }
        if !keys.insert(key) {
            continue;
        }
        if members == MAX_MEMBERS
            || out.len() + usize::from(members > 0) + member.len() > MAX_LENGTH
        {
            return Err(());
        }
        if members > 0 {
            out.push(',');
        }
        out.push_str(member);
        members += 1;
    }
    Ok((members > 0).then_some(out))
}
