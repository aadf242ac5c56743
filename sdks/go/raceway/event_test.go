package raceway

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEventFieldsStayWithinTheSchema(t *testing.T) {
	for in, want := range map[string]string{"": "GET", "get": "GET", "PURGE": "PURGE", "M-SEARCH": "M-SEARCH", "wéird": "OTHER", strings.Repeat("A", 33): "OTHER"} {
		if got := eventMethod(in); got != want {
			t.Errorf("eventMethod(%q) = %q, want %q", in, got, want)
		}
	}
	u, _ := url.Parse("http://user:pw@inventory:8080/items/1?token=x#frag")
	if target, host := eventTarget(u); target != "http://inventory:8080/items/1" || host != "inventory:8080" {
		t.Errorf("eventTarget = %q %q: credentials, query and fragment must go", target, host)
	}
	if s := cutString(strings.Repeat("é", 10), 5); s != "éé" || !utf8.ValidString(s) {
		t.Errorf("cutString cut inside a character: %q", s)
	}
}

func TestEventValues(t *testing.T) {
	if got := string(eventValue(map[string]int{"qty": 3})); got != `{"qty":3}` {
		t.Errorf("small value %s", got)
	}
	big := eventValue(strings.Repeat("x", 5000))
	var text string
	if err := json.Unmarshal(big, &text); err != nil || len(text) > maxValueBytes || !strings.HasSuffix(text, truncationMark) {
		t.Errorf("a large value is cut to 1 KiB of text ending in the mark: %d bytes, %v", len(text), err)
	}
	if got := string(eventValue(make(chan int))); !strings.HasPrefix(got, `"0x`) {
		t.Errorf("an unmarshalable value is recorded as its text: %s", got)
	}
	if eventVersion(int64(7)) != int64(7) || eventVersion("e1") != "e1" || eventVersion(2.5) != "2.5" {
		t.Errorf("versions are integers or strings")
	}
}

type panickyError struct{}

func (panickyError) Error() string { panic("no") }

func TestErrorInfo(t *testing.T) {
	wrapped := fmt.Errorf("reserve: %w", &url.Error{Op: "Get", URL: "http://x", Err: fmt.Errorf("refused")})
	if info := errorInfo(wrapped, ""); info.Type != "*url.Error" || !strings.Contains(info.Message, "reserve") {
		t.Errorf("errorInfo(wrapped) = %+v", info)
	}
	if info := errorInfo(panickyError{}, ""); info.Message == "" {
		t.Errorf("an Error method that panics must not escape: %+v", info)
	}
	if info := panicInfo("plain", []byte("stack")); info.Type != "panic" || info.Message != "plain" || info.Stack != "stack" {
		t.Errorf("panicInfo = %+v", info)
	}
}

// The HTTP kinds write their JSON by hand; it must say what encoding/json says of the same
// struct (whose tags the schema tests cover through every other kind).
func TestEventKindsEncodeLikeEncodingJSON(t *testing.T) {
	route := `/orders/{id}<"é">`
	for _, data := range []any{
		requestReceivedData{Method: "GET", Path: "/a\\b\n\u2028", Route: &route, Incoming: incomingData{Status: "degraded", Reasons: []string{"vc_invalid", "tracestate_invalid"}}},
		requestReceivedData{Method: "GET", Path: "/", Incoming: incomingData{Status: "absent", Reasons: []string{}}},
		responseSentData{Method: "POST", Route: &route, Status: 201, DurationMs: 12.345},
		responseSentData{Method: "POST", Status: 500, DurationMs: 0, Error: &errorData{Type: "panic", Message: "bo\"om", Stack: "a\tb"}},
		requestSentData{Method: "GET", URL: "http://inventory:8080/items/&x", Host: "inventory:8080"},
		requestSentData{Method: "POST", URL: "https://api.stripe.com/v1", Host: "api.stripe.com", HeadersWithheld: true},
		responseReceivedData{Method: "GET", URL: "unknown", Host: "unknown", DurationMs: 1.5, Error: &errorData{Type: "*net.OpError", Message: "refused"}},
		responseReceivedData{Method: "GET", URL: "http://a/", Host: "a", Status: 204, DurationMs: 0.001, RemoteClock: true},
	} {
		hand, err := appendData(nil, data)
		if err != nil {
			t.Fatal(err)
		}
		reference, _ := json.Marshal(data)
		var a, b any
		if err := json.Unmarshal(hand, &a); err != nil {
			t.Fatalf("hand-written JSON does not parse: %s", hand)
		}
		_ = json.Unmarshal(reference, &b)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("hand-written %s\n   reference %s", hand, reference)
		}
	}
}
