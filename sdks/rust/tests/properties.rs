//! Property tests, bounded so they run in `cargo test`: the clock laws, the codec round trip,
//! and the fuzz target of the contract: extraction and clock decoding never panic, whatever
//! the headers.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use raceway_client::clock::{
    decode_clock, encode_clock, ClockOrder, VectorClock, MAX_CLOCK_ENTRIES,
};
use raceway_client::propagation::{extract, parse_traceparent, parse_tracestate};

fn component() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._:#@/+-]{1,64}"
}

fn clock(max_entries: usize) -> impl Strategy<Value = VectorClock> {
    btree_map(component(), 1u64..=1_000_000, 0..max_entries).prop_map(|m| m.into_iter().collect())
}

fn merged(a: &VectorClock, b: &VectorClock) -> VectorClock {
    let mut out = a.clone();
    out.merge(b);
    out
}

/// Header values that stress the parsers: near-valid forms, separators, whitespace, Unicode.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9a-fA-F-]{0,40}",
        "[ \t]*00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}[ \t,-]*",
        r#"[ {}":,0-9a-z#~\-]{0,80}"#,
        "[a-z0-9@=,_ */-]{0,120}",
    ]
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("X-Raceway-Trace-Id".to_owned()),
        Just("x-raceway-vc".to_owned()),
        Just("traceparent".to_owned()),
        Just("TraceState".to_owned()),
        "[a-z-]{1,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn merge_is_commutative_associative_and_idempotent(a in clock(8), b in clock(8), c in clock(8)) {
        prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        prop_assert_eq!(merged(&a, &a), a.clone());
    }

    #[test]
    fn merge_is_the_least_upper_bound(a in clock(8), b in clock(8)) {
        let m = merged(&a, &b);
        prop_assert!(matches!(a.compare(&m), ClockOrder::Before | ClockOrder::Equal));
        prop_assert!(matches!(b.compare(&m), ClockOrder::Before | ClockOrder::Equal));
    }

    #[test]
    fn increment_moves_strictly_after(a in clock(8), key in component()) {
        let mut next = a.clone();
        next.increment(&key);
        prop_assert_eq!(a.compare(&next), ClockOrder::Before);
        prop_assert_eq!(next.compare(&a), ClockOrder::After);
    }

    #[test]
    fn compare_is_antisymmetric(a in clock(6), b in clock(6)) {
        let flipped = match a.compare(&b) {
            ClockOrder::Before => ClockOrder::After,
            ClockOrder::After => ClockOrder::Before,
            other => other,
        };
        prop_assert_eq!(b.compare(&a), flipped);
    }

    #[test]
    fn encoding_round_trips(a in clock(MAX_CLOCK_ENTRIES + 1), dropped in 0u64..5) {
        let decoded = decode_clock(&encode_clock(&a, None, dropped)).expect("canonical form decodes");
        if a.len() <= MAX_CLOCK_ENTRIES {
            prop_assert_eq!(&decoded.clock, &a);
            prop_assert_eq!(decoded.dropped, dropped);
        } else {
            prop_assert_eq!(decoded.clock.len(), MAX_CLOCK_ENTRIES);
            prop_assert_eq!(decoded.dropped, dropped + (a.len() - MAX_CLOCK_ENTRIES) as u64);
        }
    }

    #[test]
    fn extraction_never_panics(headers in vec((header_name(), header_value()), 0..8)) {
        let context = extract(&headers);
        // Whatever came in, what is joined is a valid trace.
        if let Some(trace_id) = &context.trace_id {
            prop_assert!(raceway_client::ids::is_valid_trace_id(trace_id));
        }
        let map: http::HeaderMap = headers
            .iter()
            .filter_map(|(k, v)| Some((http::HeaderName::from_bytes(k.as_bytes()).ok()?, http::HeaderValue::from_bytes(v.as_bytes()).ok()?)))
            .collect();
        let _ = extract(&map);
    }

    #[test]
    fn decoders_never_panic(value in header_value()) {
        let _ = decode_clock(&value);
        let _ = parse_traceparent(&value);
        let _ = parse_tracestate(&[value.as_str()]);
    }
}
