use std::collections::HashSet;

use super::carrier::trim_ows;

const MAX_MEMBERS: usize = 32;
const MAX_LENGTH: usize = 512;

fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// `[a-z][a-z0-9_\-*/]{0,255}` or `[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}`.
fn is_valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    match key.split_once('@') {
        None => {
            !bytes.is_empty()
                && bytes.len() <= 256
                && bytes[0].is_ascii_lowercase()
                && bytes.iter().all(|&b| is_key_char(b))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            !t.is_empty()
                && t.len() <= 241
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && t.iter().all(|&b| is_key_char(b))
                && !s.is_empty()
                && s.len() <= 14
                && s[0].is_ascii_lowercase()
                && s.iter().all(|&b| is_key_char(b))
        }
    }
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
/// empty members dropped. `Ok(None)` when nothing is left, `Err(())` when the whole value must
/// be dropped (`tracestate_invalid`).
///
/// ```
/// use raceway_client::propagation::parse_tracestate;
/// assert_eq!(parse_tracestate(&["rojo=1 ", " congo=2"]), Ok(Some("rojo=1,congo=2".into())));
/// assert_eq!(parse_tracestate(&["rojo=1,rojo=2"]), Err(()));
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
        if members == MAX_MEMBERS
            || out.len() + usize::from(members > 0) + member.len() > MAX_LENGTH
        {
            return Err(());
        }
        let (key, value) = member.split_once('=').ok_or(())?;
        if !is_valid_key(key) || !is_valid_value(value) || !keys.insert(key) {
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
