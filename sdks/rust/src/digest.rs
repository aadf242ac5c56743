//! Parameter digests (spec 4.3): the first 8 bytes of HMAC-SHA256 over a value's canonical
//! form, as 16 lowercase hex digits, equal for equal values in every Raceway SDK.

use std::borrow::Cow;
use std::fmt::Write as _;

use ring::hmac;
use serde_json::Value;

/// The digest key when `RACEWAY_DIGEST_KEY` is not set (spec 4.3).
pub const DEFAULT_DIGEST_KEY: &str = "raceway-digest-v1";

/// A key ready to digest with: the HMAC key schedule is computed once, not per value.
#[derive(Clone, Debug)]
pub struct Digester {
    key: hmac::Key,
}

impl Digester {
    /// A digester for `key` (the configuration's `digest_key`).
    pub fn new(key: &str) -> Self {
        Digester {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        }
    }

    /// The digest of a canonical form already built.
    pub fn digest_canonical(&self, canonical: &str) -> String {
        let tag = hmac::sign(&self.key, canonical.as_bytes());
        let mut out = String::with_capacity(16);
        for byte in &tag.as_ref()[..8] {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }

    /// The digest of a value.
    pub fn digest<T: DigestValue + ?Sized>(&self, value: &T) -> String {
        self.digest_canonical(&canonical_param(value))
    }
}

impl Default for Digester {
    fn default() -> Self {
        Digester::new(DEFAULT_DIGEST_KEY)
    }
}

/// The canonical form of a value (spec 4.3): what its digest hashes.
///
/// ```
/// use raceway_client::db::canonical_param;
/// assert_eq!(canonical_param(&42_i32), "i:42");
/// assert_eq!(canonical_param(&1.5_f64), "f:3ff8000000000000");
/// assert_eq!(canonical_param("mug"), "s:mug");
/// assert_eq!(canonical_param(&None::<i64>), "n");
/// ```
pub fn canonical_param<T: DigestValue + ?Sized>(value: &T) -> String {
    let mut out = String::new();
    value.write_canonical(&mut out);
    out
}

/// The digest of a value with the key given (16 lowercase hex digits).
///
/// ```
/// use raceway_client::db::param_digest;
/// assert_eq!(param_digest(&42_i64, "raceway-digest-v1"), "73eb651a20385a68");
/// ```
pub fn param_digest<T: DigestValue + ?Sized>(value: &T, key: &str) -> String {
    Digester::new(key).digest(value)
}

/// A value a query parameter or a returned column can hold, with its canonical form (spec
/// 4.3) and its raw form for `capture_values`. Implemented for the integer and float types,
/// `bool`, strings, bytes, `Option` (`None` is null), `serde_json::Value`, and the date and time
/// types of the enabled drivers' features; implement it for a type of your own to bind it
/// through a traced query.
pub trait DigestValue {
    /// Appends the canonical form to `out`.
    fn write_canonical(&self, out: &mut String);
    /// The value as a `db_query` event's `value` carries it (`capture_values`).
    fn raw_value(&self) -> Value;
}

impl<T: DigestValue + ?Sized> DigestValue for &T {
    fn write_canonical(&self, out: &mut String) {
        (**self).write_canonical(out)
    }
    fn raw_value(&self) -> Value {
        (**self).raw_value()
    }
}

impl<T: DigestValue> DigestValue for Option<T> {
    fn write_canonical(&self, out: &mut String) {
        match self {
            Some(value) => value.write_canonical(out),
            None => out.push('n'),
        }
    }
    fn raw_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, DigestValue::raw_value)
    }
}

impl DigestValue for bool {
    fn write_canonical(&self, out: &mut String) {
        out.push_str(if *self { "b:true" } else { "b:false" });
    }
    fn raw_value(&self) -> Value {
        Value::Bool(*self)
    }
}

macro_rules! digest_integers {
    ($($t:ty),*) => {$(
        impl DigestValue for $t {
            fn write_canonical(&self, out: &mut String) {
                let _ = write!(out, "i:{self}");
            }
            fn raw_value(&self) -> Value {
                // Beyond 64 bits JSON numbers lose digits: the decimal text instead.
                serde_json::to_value(self).unwrap_or_else(|_| Value::String(self.to_string()))
            }
        }
    )*};
}
digest_integers!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

/// A float: `i:` and its digits when integral (`1.0` is `i:1`, `-0.0` is `i:0`), else `f:` and
/// its IEEE-754 binary64 bits (NaN is the canonical quiet NaN).
fn write_float(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("f:7ff8000000000000");
    } else if value.is_finite() && value.fract() == 0.0 {
        // Display writes integral floats exactly, never in exponent form (1e21 is 21 digits).
        let _ = write!(out, "i:{}", if value == 0.0 { 0.0 } else { value });
    } else {
        let _ = write!(out, "f:{:016x}", value.to_bits());
    }
}

impl DigestValue for f64 {
    fn write_canonical(&self, out: &mut String) {
        write_float(*self, out)
    }
    fn raw_value(&self) -> Value {
        serde_json::Number::from_f64(*self).map_or(Value::Null, Value::Number)
    }
}

impl DigestValue for f32 {
    fn write_canonical(&self, out: &mut String) {
        write_float(f64::from(*self), out)
    }
    fn raw_value(&self) -> Value {
        f64::from(*self).raw_value()
    }
}

impl DigestValue for str {
    fn write_canonical(&self, out: &mut String) {
        out.push_str("s:");
        out.push_str(self);
    }
    fn raw_value(&self) -> Value {
        Value::String(self.to_owned())
    }
}

impl DigestValue for String {
    fn write_canonical(&self, out: &mut String) {
        self.as_str().write_canonical(out)
    }
    fn raw_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl DigestValue for Cow<'_, str> {
    fn write_canonical(&self, out: &mut String) {
        self.as_ref().write_canonical(out)
    }
    fn raw_value(&self) -> Value {
        self.as_ref().raw_value()
    }
}

impl DigestValue for [u8] {
    fn write_canonical(&self, out: &mut String) {
        out.push_str("x:");
        push_hex(self, out);
    }
    fn raw_value(&self) -> Value {
        let mut hex = String::with_capacity(self.len() * 2);
        push_hex(self, &mut hex);
        Value::String(hex)
    }
}

impl DigestValue for Vec<u8> {
    fn write_canonical(&self, out: &mut String) {
        self.as_slice().write_canonical(out)
    }
    fn raw_value(&self) -> Value {
        self.as_slice().raw_value()
    }
}

impl<const N: usize> DigestValue for [u8; N] {
    fn write_canonical(&self, out: &mut String) {
        self.as_slice().write_canonical(out)
    }
    fn raw_value(&self) -> Value {
        self.as_slice().raw_value()
    }
}

fn push_hex(bytes: &[u8], out: &mut String) {
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
}

/// A JSON value: `n`, `b:`, `i:`/`f:`, `s:` for scalars as the same value bound directly
/// would be; arrays and objects `j:` and their JSON with keys sorted, without white space.
impl DigestValue for Value {
    fn write_canonical(&self, out: &mut String) {
        match self {
            Value::Null => out.push('n'),
            Value::Bool(b) => b.write_canonical(out),
            Value::Number(n) => write_number(n, out, true),
            Value::String(s) => s.write_canonical(out),
            Value::Array(_) | Value::Object(_) => {
                out.push_str("j:");
                write_sorted_json(self, out);
            }
        }
    }
    fn raw_value(&self) -> Value {
        self.clone()
    }
}

fn write_number(n: &serde_json::Number, out: &mut String, canonical: bool) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{}{i}", if canonical { "i:" } else { "" });
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{}{u}", if canonical { "i:" } else { "" });
    } else if let Some(f) = n.as_f64() {
        if canonical {
            write_float(f, out);
        } else if f.fract() == 0.0 && f.abs() < 1e21 {
            // As JavaScript's JSON writes an integral number.
            let _ = write!(out, "{}", if f == 0.0 { 0.0 } else { f });
        } else {
            out.push_str(&n.to_string());
        }
    }
}

/// JSON with object keys sorted by code point at every level, without white space.
fn write_sorted_json(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            // UTF-8 byte order is code point order.
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_sorted_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Number(n) => write_number(n, out, false),
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_that_are_integers_digest_as_integers() {
        assert_eq!(canonical_param(&1.0_f64), "i:1");
        assert_eq!(canonical_param(&-0.0_f64), "i:0");
        assert_eq!(canonical_param(&1e21_f64), "i:1000000000000000000000");
        assert_eq!(canonical_param(&f64::NAN), "f:7ff8000000000000");
        assert_eq!(canonical_param(&f64::NEG_INFINITY), "f:fff0000000000000");
        assert_eq!(canonical_param(&1.5_f32), "f:3ff8000000000000");
        assert_eq!(canonical_param(&u128::MAX), format!("i:{}", u128::MAX));
    }

    #[test]
    fn json_scalars_match_the_same_value_bound_directly() {
        assert_eq!(
            canonical_param(&serde_json::json!(42)),
            canonical_param(&42_i64)
        );
        assert_eq!(canonical_param(&serde_json::json!("a")), "s:a");
        assert_eq!(
            canonical_param(&serde_json::json!({"b": [1.0, 2.5], "a": null})),
            r#"j:{"a":null,"b":[1,2.5]}"#
        );
        assert_eq!(canonical_param(&Some(b"\x00\xff".to_vec())), "x:00ff");
    }
}
