"""Parameter digests (spec 4.3): the canonical form of a value and its keyed digest, equal for
equal values in every SDK, so that the collector can tell that two services touched the same row
without seeing either value. Pinned by spec/vectors/param-digest.json."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import math
import struct
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = [
    "DEFAULT_DIGEST_KEY",
    "canonical_param",
    "digest_canonical",
    "param_digest",
    "raw_value",
]

DEFAULT_DIGEST_KEY = "raceway-digest-v1"
"""The digest key when neither `digest_key` nor `RACEWAY_DIGEST_KEY` is set."""

_NAN = "f:7ff8000000000000"


def canonical_param(value: object) -> str:
    """The canonical form of a parameter value: what its digest hashes.

    Python's types map onto the spec's: `bool` is a boolean (checked before `int`, its base
    class); an `int` of any size, or a `float` or `Decimal` with an integral value, is `i:`; any
    other `float` or `Decimal` is `f:` and its IEEE-754 bits (a `Decimal` through its nearest
    float, which is how the collector reads a number written in SQL text); `str` and `UUID` are
    `s:` (the TypeScript drivers hand a UUID over as its text); `bytes`, `bytearray` and
    `memoryview` are `x:`; a `datetime` or `date` is `s:` and its ISO form in UTC with
    milliseconds, as a JavaScript `Date` gives it (a naive one is taken as UTC, a `date` as
    midnight UTC); a `time` is `s:` and its ISO form; anything else is `j:` and its JSON with
    sorted keys and no white space.

    >>> canonical_param(42), canonical_param(1.5), canonical_param("mug")
    ('i:42', 'f:3ff8000000000000', 's:mug')
    """
    kind = type(value)
    if kind is int:  # the common cases first: ids and counts, then text
        return f"i:{value}"
    if kind is str:
        return "s:" + value  # type: ignore[operator]
    if value is None:
        return "n"
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, int):
        return f"i:{int(value)}"
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return "s:" + value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "x:" + bytes(value).hex()
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return "s:" + _instant(value)
    if isinstance(value, dt.time):
        return "s:" + value.isoformat()
    if isinstance(value, uuid.UUID):
        return "s:" + str(value)
    return "j:" + _sorted_json(value)


def _float(value: float) -> str:
    if math.isnan(value):
        return _NAN
    if math.isfinite(value) and value.is_integer():
        return f"i:{int(value)}"
    return "f:" + struct.pack(">d", value).hex()


def _decimal(value: Decimal) -> str:
    if value.is_nan():
        return _NAN
    if value.is_finite() and value == value.to_integral_value():
        return f"i:{int(value)}"
    return _float(float(value))


def _instant(value: dt.date) -> str:
    """A date or datetime as JavaScript's `Date.toISOString()`: UTC, milliseconds, `Z`."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    utc = value.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _js_number(value: float) -> str:
    """A float as JavaScript's `JSON.stringify` writes it (shortest digits, its exponent
    rules), so that JSON parameters digest alike in both languages."""
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_tuple = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digits_tuple.digits))
    k = len(digits)
    n = int(digits_tuple.exponent) + k
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        exponent = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    return sign + text


def _sorted_json(value: object) -> str:
    """JSON with object keys sorted by code point at every level, without white space."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = sorted((str(key), item) for key, item in value.items())
        return "{" + ",".join(f"{_sorted_json(k)}:{_sorted_json(v)}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_sorted_json(item) for item in value) + "]"
    if not isinstance(value, _SCALARS):
        return json.dumps(str(value), ensure_ascii=False)  # an object JSON cannot write
    canonical = canonical_param(value)
    if canonical.startswith("i:"):
        return canonical[2:]  # an integral Decimal
    if canonical.startswith("f:"):
        return _js_number(float(value))  # type: ignore[arg-type]  # a Decimal
    # Bytes, dates and anything else inside a JSON value: their canonical text, as a string.
    return json.dumps(canonical.partition(":")[2], ensure_ascii=False)


_SCALARS = (bytes, bytearray, memoryview, Decimal, dt.date, dt.time, uuid.UUID)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate: U+FFFD, as JavaScript's UTF-8 encoder writes it.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


# An HMAC costs a few microseconds and a query digests its parameters and the values it read:
# the same ids come back query after query, so recent digests of short values are kept (a
# bounded number: the values are in the process's memory anyway).
_MAX_CACHED_DIGESTS = 4096
_MAX_CACHED_LENGTH = 256
_recent: dict[tuple[str, str], str] = {}


def digest_canonical(canonical: str, key: str = DEFAULT_DIGEST_KEY) -> str:
    """The 16-hex digest of a canonical form already built: the first 8 bytes of HMAC-SHA256
    keyed with `key`."""
    if len(canonical) > _MAX_CACHED_LENGTH:
        return _hmac(canonical, key)
    cache_key = (key, canonical)
    digest = _recent.get(cache_key)
    if digest is None:
        digest = _hmac(canonical, key)
        if len(_recent) >= _MAX_CACHED_DIGESTS:
            # Oldest first out (dicts keep insertion order).
            try:
                del _recent[next(iter(_recent))]
            except (StopIteration, KeyError, RuntimeError):
                _recent.clear()
        _recent[cache_key] = digest
    return digest


def _hmac(canonical: str, key: str) -> str:
    return hmac.digest(_utf8(key), _utf8(canonical), "sha256")[:8].hex()


def param_digest(value: object, key: str = DEFAULT_DIGEST_KEY) -> str:
    """The digest of a parameter value (spec 4.3): equal values give equal digests across
    services and languages that share the key; the value itself never leaves the service.

    >>> param_digest(42)
    '73eb651a20385a68'
    """
    return digest_canonical(canonical_param(value), key)


def raw_value(value: object) -> Any:
    """A parameter's raw value as an event carries it (only with `capture_values`): bytes as
    hex, dates as their canonical text, JSON values as they are, anything else as its text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    canonical = canonical_param(value)
    if canonical.startswith("j:"):
        try:
            return json.loads(canonical[2:])
        except ValueError:
            return canonical[2:]
    if canonical.startswith("i:"):
        return int(canonical[2:])
    if canonical.startswith("f:"):
        return float(value)  # type: ignore[arg-type]  # a Decimal
    return canonical.partition(":")[2]
