"""Canonical forms of Python's own types (beyond the JSON values the vectors give), and the
configuration of query capture (spec 7)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from raceway.config import resolve_config
from raceway.db.param_digest import canonical_param, param_digest
from raceway.errors import RacewayConfigError


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        (True, "b:true"),  # a bool is an int in Python: it must not become i:1
        (False, "b:false"),
        (2**80, "i:1208925819614629174706176"),
        (3.0, "i:3"),
        (-0.0, "i:0"),
        (1e21, "i:1000000000000000000000"),
        (Decimal("42.000"), "i:42"),
        (Decimal("1E+3"), "i:1000"),
        (Decimal("1.50"), "f:3ff8000000000000"),  # what the collector reads for 1.50 in SQL
        (Decimal("NaN"), "f:7ff8000000000000"),
        (bytearray(b"\x00\xff"), "x:00ff"),
        (memoryview(b"\x10"), "x:10"),
        # As a JavaScript Date writes itself: UTC, milliseconds, Z.
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc),
            "s:2024-01-02T03:04:05.678Z",
        ),
        (
            dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "s:2024-01-02T03:04:05.000Z",
        ),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "s:2024-01-02T03:04:05.000Z"),  # naive: UTC
        (dt.date(2024, 1, 2), "s:2024-01-02T00:00:00.000Z"),
        (dt.time(3, 4, 5), "s:03:04:05"),
        (
            uuid.UUID("123e4567-e89b-12d3-a456-426614174000"),
            "s:123e4567-e89b-12d3-a456-426614174000",
        ),
        # JSON as JavaScript writes it: 1.0 is 1, 1e-7 keeps its exponent, keys sorted.
        ([1.0, 1e-7, 1e21, 0.5], "j:[1,1e-7,1e+21,0.5]"),
        ((1, "a", None), 'j:[1,"a",null]'),
        ({"b": {"y": 1, "x": 2}, "a": "é"}, 'j:{"a":"é","b":{"x":2,"y":1}}'),
        ({"when": dt.date(2024, 1, 2)}, 'j:{"when":"2024-01-02T00:00:00.000Z"}'),
    ],
)
def test_canonical_forms_of_python_types(value: object, canonical: str) -> None:
    assert canonical_param(value) == canonical


def test_an_object_without_a_form_of_its_own_never_raises() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    assert canonical_param(Odd()) == 'j:"odd"'
    assert len(param_digest(Odd())) == 16


def test_a_lone_surrogate_digests_as_javascript_encodes_it() -> None:
    assert param_digest("a\udc00") == param_digest("a\ufffd")


def test_capture_settings_default() -> None:
    config = resolve_config({"service_name": "s"}, {})
    assert (config.capture_queries, config.capture_values, config.digest_key) == (
        True,
        False,
        "raceway-digest-v1",
    )


def test_capture_settings_from_the_environment_and_options() -> None:
    env = {
        "RACEWAY_DB_CAPTURE": " Off ",
        "RACEWAY_DB_CAPTURE_VALUES": "yes",
        "RACEWAY_DIGEST_KEY": "  shop-secret ",
    }
    config = resolve_config({"service_name": "s"}, env)
    assert (config.capture_queries, config.capture_values, config.digest_key) == (
        False,
        True,
        "shop-secret",
    )
    # An option given in code wins over the environment.
    config = resolve_config({"service_name": "s", "capture_queries": True, "digest_key": "k2"}, env)
    assert (config.capture_queries, config.digest_key) == (True, "k2")
    # A blank variable counts as unset.
    assert resolve_config({"service_name": "s"}, {"RACEWAY_DIGEST_KEY": " "}).digest_key == (
        "raceway-digest-v1"
    )


@pytest.mark.parametrize(
    ("options", "env", "code"),
    [
        ({}, {"RACEWAY_DB_CAPTURE": "maybe"}, "RACEWAY_INVALID_DB_CAPTURE"),
        ({"capture_queries": "yes"}, {}, "RACEWAY_INVALID_DB_CAPTURE"),
        ({}, {"RACEWAY_DB_CAPTURE_VALUES": "2"}, "RACEWAY_INVALID_DB_CAPTURE_VALUES"),
        ({"capture_values": 1}, {}, "RACEWAY_INVALID_DB_CAPTURE_VALUES"),
        ({"digest_key": "  "}, {}, "RACEWAY_INVALID_DIGEST_KEY"),
        ({"digest_key": 42}, {}, "RACEWAY_INVALID_DIGEST_KEY"),
    ],
)
def test_refused_capture_settings(
    options: dict[str, object], env: dict[str, str], code: str
) -> None:
    with pytest.raises(RacewayConfigError) as refused:
        resolve_config({"service_name": "s", **options}, env)  # type: ignore[typeddict-item]
    assert refused.value.code == code
    assert "secret" not in str(refused.value)


def test_the_key_is_never_in_a_message() -> None:
    with pytest.raises(RacewayConfigError) as refused:
        resolve_config({"service_name": "s", "digest_key": 12345})  # type: ignore[typeddict-item]
    assert "12345" not in str(refused.value)
