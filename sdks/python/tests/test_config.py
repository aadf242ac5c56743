"""Options and environment variables, named as in the TypeScript SDK."""

from __future__ import annotations

import re

import pytest

from raceway import RacewayConfigError, Tracer
from raceway.config import resolve_config
from raceway.url_filters import default_propagate_to


def test_the_environment_fills_in_what_the_code_leaves_out() -> None:
    config = resolve_config(
        {},
        {
            "RACEWAY_SERVICE_NAME": "billing",
            "RACEWAY_URL": "http://collector:9090/raceway/",
            "RACEWAY_API_KEY": "k",
            "RACEWAY_SAMPLE_RATE": "0.25",
            "RACEWAY_DEBUG": "yes",
            "RACEWAY_INSTANCE": "pod-7",
            "RACEWAY_PROPAGATE_TO": "api.partner.example, *.corp.example",
        },
    )
    assert config.service_name == "billing"
    assert config.endpoint == "http://collector:9090/raceway/v1/events"
    assert config.api_key == "k"
    assert config.sample_rate == 0.25
    assert config.debug is True
    assert config.instance == "pod-7"
    assert config.propagate_to("https://api.partner.example/x")
    assert config.propagate_to("http://a.corp.example/")
    assert not config.propagate_to("http://localhost/")


def test_options_in_code_win_over_the_environment() -> None:
    config = resolve_config(
        {"service_name": "code", "server_url": "http://a:1"},
        {"RACEWAY_SERVICE_NAME": "env", "RACEWAY_URL": "http://b:2"},
    )
    assert (config.service_name, config.server_url) == ("code", "http://a:1")


def test_disabled_needs_no_service_name() -> None:
    assert resolve_config({}, {"RACEWAY_DISABLED": "true"}).disabled is True


@pytest.mark.parametrize(
    ("options", "env", "code"),
    [
        ({}, {}, "RACEWAY_MISSING_SERVICE_NAME"),
        ({"service_name": ""}, {}, "RACEWAY_INVALID_SERVICE_NAME"),
        ({"service_name": "a", "server_url": "ftp://x"}, {}, "RACEWAY_INVALID_URL"),
        ({"service_name": "a", "server_url": "http://u:p@x"}, {}, "RACEWAY_INVALID_URL"),
        ({"service_name": "a", "api_key": "has space"}, {}, "RACEWAY_INVALID_API_KEY"),
        ({"service_name": "a"}, {"RACEWAY_DISABLED": "maybe"}, "RACEWAY_INVALID_DISABLED"),
        ({"service_name": "a"}, {"RACEWAY_SAMPLE_RATE": "2"}, "RACEWAY_INVALID_SAMPLE_RATE"),
        ({"service_name": "a", "batch_size": 0}, {}, "RACEWAY_INVALID_BATCH_SIZE"),
        ({"service_name": "a", "propagate_to": [" "]}, {}, "RACEWAY_INVALID_PROPAGATE_TO"),
        ({"service_name": "a", "ignore_paths": ["x"]}, {}, "RACEWAY_INVALID_IGNORE_PATHS"),
    ],
)
def test_bad_configuration_raises_a_coded_error(
    options: dict[str, object], env: dict[str, str], code: str
) -> None:
    with pytest.raises(RacewayConfigError) as caught:
        resolve_config(options, env)  # type: ignore[arg-type]
    assert caught.value.code == code


def test_an_unknown_option_is_refused_with_a_suggestion() -> None:
    with pytest.raises(RacewayConfigError) as caught:
        resolve_config({"service_name": "a", "sample_rat": 0.5}, {})  # type: ignore[typeddict-unknown-key]
    assert caught.value.code == "RACEWAY_UNKNOWN_OPTION"
    assert "did you mean 'sample_rate'?" in str(caught.value)


def test_an_api_key_is_never_echoed() -> None:
    with pytest.raises(RacewayConfigError) as caught:
        resolve_config({"service_name": "a", "api_key": "top secret"}, {})
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "internal"),
    [
        ("http://inventory:3000/x", True),
        ("http://localhost/", True),
        ("http://10.1.2.3/", True),
        ("http://172.20.0.1/", True),
        ("http://192.168.1.1/", True),
        ("http://db.internal/", True),
        ("https://api.stripe.com/v1", False),
        ("http://8.8.8.8/", False),
        ("http://[2001:db8::1]/", False),
    ],
)
def test_the_default_allow_list_keeps_trace_headers_inside(url: str, internal: bool) -> None:
    assert default_propagate_to(url) is internal


def test_propagate_to_entries() -> None:
    config = resolve_config(
        {
            "service_name": "a",
            "propagate_to": ["api.example.com", "*.corp", "10.0.0.0/8", re.compile(r"/v2/")],
        },
        {},
    )
    assert config.propagate_to("http://api.example.com/x")
    assert config.propagate_to("http://x.corp/")
    assert config.propagate_to("http://10.2.3.4:8080/p")
    assert not config.propagate_to("http://11.2.3.4/p")
    assert config.propagate_to("https://other.example/v2/items")
    assert not config.propagate_to("https://other.example/v1/items")


def test_a_predicate_that_raises_means_no_headers() -> None:
    def broken(url: str) -> bool:
        raise RuntimeError(url)

    assert (
        resolve_config({"service_name": "a", "propagate_to": broken}, {}).propagate_to("x") is False
    )


def test_a_disabled_tracer_records_nothing() -> None:
    tracer = Tracer(disabled=True)
    assert tracer.transport is None
    with tracer.start_trace() as ctx:
        assert ctx is None


def test_debug_says_once_per_host_that_it_got_no_headers(caplog: pytest.LogCaptureFixture) -> None:
    tracer = Tracer(service_name="dbg", debug=True, propagate_to=["only.example"], disabled=False)
    with caplog.at_level("WARNING", logger="raceway"):
        for _ in range(3):
            tracer.note_unpropagated("https://api.stripe.com/v1/charges")
    assert [record.getMessage() for record in caplog.records] == [
        "raceway: calls to api.stripe.com get no trace headers (not in propagate_to)"
    ]
    tracer.shutdown(0.1)
