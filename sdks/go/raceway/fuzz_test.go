package raceway

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Seed corpora come from the contract's vectors, read in place like every other runner.

func FuzzExtract(f *testing.F) {
	for _, c := range readVectorFile(f, filepath.Join(vectorDir, "extract.json")).Cases {
		var input struct {
			Headers map[string]json.RawMessage `json:"headers"`
		}
		if err := json.Unmarshal(c.Input, &input); err != nil {
			f.Fatal(err)
		}
		values := func(name string) string {
			for k, raw := range input.Headers {
				if !strings.EqualFold(k, name) {
					continue
				}
				var one string
				if json.Unmarshal(raw, &one) == nil {
					return one
				}
				var many []string
				_ = json.Unmarshal(raw, &many)
				return strings.Join(many, "\n")
			}
			return ""
		}
		f.Add(values(HeaderTraceID), values(HeaderTraceparent), values(HeaderVC), values(HeaderTracestate))
	}
	f.Fuzz(func(t *testing.T, traceID, traceparent, vc, tracestate string) {
		h := http.Header{}
		// A newline separates copies of a header received several times.
		for name, value := range map[string]string{HeaderTraceID: traceID, HeaderTraceparent: traceparent,
			HeaderVC: vc, HeaderTracestate: tracestate} {
			if value != "" {
				h[name] = strings.Split(value, "\n")
			}
		}
		in := extract(h) // must never panic
		switch in.status {
		case statusAbsent, statusRejected:
			if in.traceID != "" || in.clock != nil || in.parentSpanID != "" || in.traceFlags != "" {
				t.Fatalf("%s with a context: %+v", in.status, in)
			}
		case statusAccepted, statusDegraded:
			if !isValidTraceID(in.traceID) || (in.status == statusAccepted) != (len(in.reasons) == 0) {
				t.Fatalf("joined badly: %+v", in)
			}
			if in.parentSpanID != "" && (!isValidSpanID(in.parentSpanID) || !isContextFlags(in.traceFlags)) {
				t.Fatalf("parent without flags: %+v", in)
			}
		default:
			t.Fatalf("status %q", in.status)
		}
		// What was accepted can be sent on and read back the same.
		if in.traceID != "" {
			x := &execContext{traceID: in.traceID, spanID: "00f067aa0ba902b7", flags: "01", clock: in.clock}
			out := http.Header{}
			inject(outgoing{traceID: x.traceID, spanID: x.spanID, flags: x.flags,
				clock: encodeClock(x.clock, "", in.clockDropped), tracestate: in.tracestate}, out)
			again := extract(out)
			if again.traceID != in.traceID || again.tracestate != in.tracestate || again.status != statusAccepted {
				t.Fatalf("round trip: %+v -> %v -> %+v", in, out, again)
			}
		}
	})
}

func FuzzDecodeClock(f *testing.F) {
	for _, c := range readVectorFile(f, filepath.Join(vectorDir, "clock-codec.json")).Cases {
		var input struct {
			Header  *string `json:"header"`
			Entries vclock  `json:"entries"`
		}
		if err := json.Unmarshal(c.Input, &input); err != nil {
			f.Fatal(err)
		}
		if input.Header != nil {
			f.Add(*input.Header)
		} else {
			f.Add(encodeClock(input.Entries, "", 0).header())
		}
	}
	f.Fuzz(func(t *testing.T, header string) {
		d := decodeClock(header) // must never panic
		if d.reason != "" {
			if d.reason != reasonVCInvalid && d.reason != reasonVCOversized {
				t.Fatalf("reason %q", d.reason)
			}
			return
		}
		if len(d.clock) > maxClockEntries {
			t.Fatalf("%d entries accepted", len(d.clock))
		}
		// A valid clock re-encodes canonically and decodes to the same clock.
		again := decodeClock(encodeClock(d.clock, "", d.dropped).header())
		if again.reason != "" || !reflect.DeepEqual(again.clock, d.clock) || again.dropped != d.dropped {
			t.Fatalf("round trip of %q: %+v vs %+v", header, d, again)
		}
	})
}
