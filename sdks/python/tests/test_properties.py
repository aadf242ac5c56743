"""Property tests: the clock laws, the codec round trip, and extraction never raising."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from raceway.clock import (
    MAX_CLOCK_COUNTER,
    ClockRejected,
    DecodedClock,
    VectorClock,
    decode_clock,
    encode_clock,
)
from raceway.propagation import extract_context, headers_from_mapping

KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:#@/+-"
keys = st.text(alphabet=KEY_ALPHABET, min_size=1, max_size=64)
clocks = st.dictionaries(keys, st.integers(1, MAX_CLOCK_COUNTER), max_size=12).map(VectorClock)
small_clocks = st.dictionaries(st.sampled_from("abcde"), st.integers(1, 4), max_size=5).map(
    VectorClock
)


def merged(a: VectorClock, b: VectorClock) -> VectorClock:
    result = a.copy()
    result.merge(b)
    return result


@given(clocks, clocks)
def test_merge_is_commutative(a: VectorClock, b: VectorClock) -> None:
    assert merged(a, b) == merged(b, a)


@given(clocks, clocks, clocks)
def test_merge_is_associative(a: VectorClock, b: VectorClock, c: VectorClock) -> None:
    assert merged(merged(a, b), c) == merged(a, merged(b, c))


@given(clocks)
def test_merge_is_idempotent(a: VectorClock) -> None:
    assert merged(a, a) == a


@given(clocks, clocks)
def test_merge_is_an_upper_bound(a: VectorClock, b: VectorClock) -> None:
    assert a.compare(merged(a, b)) in ("before", "equal")
    assert b.compare(merged(a, b)) in ("before", "equal")


@given(small_clocks, small_clocks)
def test_compare_is_antisymmetric(a: VectorClock, b: VectorClock) -> None:
    flipped = {"before": "after", "after": "before", "equal": "equal", "concurrent": "concurrent"}
    assert b.compare(a) == flipped[a.compare(b)]


@given(small_clocks, small_clocks, small_clocks)
def test_before_is_transitive(a: VectorClock, b: VectorClock, c: VectorClock) -> None:
    if a.compare(b) == "before" and b.compare(c) == "before":
        assert a.compare(c) == "before"


@given(clocks, keys)
def test_an_increment_happens_after(a: VectorClock, component: str) -> None:
    later = a.copy()
    later.increment(component)
    assert a.compare(later) == ("equal" if a.get(component) == MAX_CLOCK_COUNTER else "before")


@given(clocks)
def test_encode_then_decode_gives_the_clock_back(a: VectorClock) -> None:
    decoded = decode_clock(encode_clock(a))
    assert isinstance(decoded, DecodedClock)
    assert decoded.clock == a
    assert decoded.dropped == 0


@given(st.text(max_size=300))
def test_decode_never_raises(text: str) -> None:
    assert isinstance(decode_clock(text), (DecodedClock, ClockRejected))


header_names = st.sampled_from(
    ["x-raceway-trace-id", "X-Raceway-VC", "traceparent", "TraceState", "x-raceway-vc", "other"]
)
header_values = st.one_of(
    st.text(max_size=80),
    st.lists(st.text(max_size=60), max_size=3),
    st.sampled_from(
        [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            '{"a#1":1}',
            "rojo=1,congo=2",
        ]
    ),
    st.none(),
    st.integers(),
)


@given(st.dictionaries(header_names, header_values, max_size=6))
def test_extraction_never_raises(headers: dict[str, object]) -> None:
    result = extract_context(headers_from_mapping(headers))
    assert result.status in ("accepted", "degraded", "rejected", "absent")
    if result.trace_id is None:
        assert result.clock is None


@given(st.text(max_size=40))
def test_extraction_survives_a_raising_getter(name: str) -> None:
    def getter(_: str) -> str:
        raise RuntimeError(name)

    assert extract_context(getter).status == "absent"
