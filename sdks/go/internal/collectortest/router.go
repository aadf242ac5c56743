package collectortest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

// The sampled caller whose headers CheckJoinedOrder sends.
const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerParent = "00f067aa0ba902b7"
)

// Get sends a GET with the given headers and returns the answer, its body read and closed.
func Get(t testing.TB, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

// CheckJoinedOrder is the contract every router adapter meets, checked on the adapter's
// server at serverURL, which must route `GET /orders/:id` (written `route`) to a handler that
// calls raceway.TrackStateRead(ctx, "order:"+id, raceway.Value(2)) and answers 201: a request
// from a sampled caller joins the caller's trace, its events name the route template and the
// path, and the response's clock carries the caller's entries and response_sent's own, which
// comes after the handler's read.
func CheckJoinedOrder(t *testing.T, col *Collector, client *raceway.Client, serverURL, route string) {
	t.Helper()
	resp := Get(t, serverURL+"/orders/42", map[string]string{
		"traceparent":  "00-" + callerTrace + "-" + callerParent + "-01",
		"X-Raceway-VC": `{"caller#00000001":3}`,
	})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Raceway-Trace-Id") != callerTrace {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	vc := resp.Header.Get("X-Raceway-VC")
	if !strings.Contains(vc, `"caller#00000001":3`) {
		t.Fatalf("the response clock does not carry the caller's: %q", vc)
	}

	events := col.Events(t, client)
	received := One(t, events, "request_received")
	read := One(t, events, "state_read")
	sent := One(t, events, "response_sent")
	if received.TraceID != callerTrace || received.ParentSpanID == nil || *received.ParentSpanID != callerParent {
		t.Errorf("request_received did not join the caller's trace: %+v", received)
	}
	if received.Data["route"] != route || received.Data["path"] != "/orders/42" {
		t.Errorf("request_received data %v", received.Data)
	}
	if sent.Data["route"] != route || sent.Data["status"] != float64(201) || sent.Data["method"] != "GET" {
		t.Errorf("response_sent data %v", sent.Data)
	}
	if read.TraceID != callerTrace || read.Data["resource"] != "order:42" {
		t.Errorf("state_read %+v", read)
	}
	own := sent.Component
	if sent.Clock[own] != read.Clock[own]+1 || !strings.Contains(vc, `"`+own+`":`) {
		t.Errorf("response_sent clock %v after read %v; response %s", sent.Clock, read.Clock, vc)
	}
}
