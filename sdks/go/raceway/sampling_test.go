package raceway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// An unsampled request records nothing and still propagates: trace id and traceparent with
// its flags and a span id of each call's own, no clock (spec 5.4).
func TestUnsampledRequestsPropagateAndRecordNothing(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	var seen []http.Header
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Clone())
		w.Header().Set("X-Raceway-Trace-Id", "0af7651916cd43dd8448eb211c80319c")
		w.Header().Set("X-Raceway-VC", `{"back#00000001":9}`)
	}))
	defer back.Close()
	httpClient := &http.Client{Transport: client.Transport(nil)}
	front := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		TrackStateWrite(r.Context(), "x")
		for i := 0; i < 2; i++ {
			req, _ := http.NewRequestWithContext(r.Context(), "GET", back.URL, nil)
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		manual := client.GetTraceHeaders(r.Context())
		if _, ok := manual[HeaderVC]; ok || manual[HeaderTraceparent] == "" {
			t.Errorf("manual headers of an unsampled trace: %v", manual)
		}
	})))
	defer front.Close()
	req, _ := http.NewRequest("GET", front.URL, nil)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Raceway-Trace-Id") != "0af7651916cd43dd8448eb211c80319c" || resp.Header.Get("X-Raceway-VC") != "" {
		t.Errorf("unsampled response headers %v", resp.Header)
	}
	if len(seen) != 2 {
		t.Fatalf("calls %d", len(seen))
	}
	tp0, tp1 := seen[0].Get("traceparent"), seen[1].Get("traceparent")
	if tp0 == tp1 || tp0[:36] != "00-0af7651916cd43dd8448eb211c80319c-" || tp0[52:] != "-00" || seen[0].Get("X-Raceway-VC") != "" {
		t.Errorf("unsampled outgoing headers: %v / %v", seen[0], seen[1])
	}
	if n := len(flushed(t, client, col)); n != 0 {
		t.Errorf("an unsampled request recorded %d events", n)
	}
}

func TestSampleRateZeroStartsUnsampledTraces(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col, WithSampleRate(0))
	srv := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tp := client.GetTraceHeaders(r.Context())[HeaderTraceparent]; tp[53:] != "02" {
			t.Errorf("a trace started here unsampled has flags 02: %s", tp)
		}
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(flushed(t, client, col)); n != 0 {
		t.Errorf("%d events at rate 0", n)
	}
}

// Each GetTraceHeaders is a client call of its own (spec 2.7); MergeResponseHeaders ends the
// one ForHeaders names, or the oldest open.
func TestManualCallsEachHaveTheirOwnSpan(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	serveOne(t, client, func(ctx context.Context) {
		a := client.GetTraceHeaders(ctx, Target("POST", "http://inventory:8080/reserve?x=1"))
		b := client.GetTraceHeaders(ctx)
		c := client.GetTraceHeaders(ctx, Target("POST", "not a url"))
		if a[HeaderTraceparent] == b[HeaderTraceparent] || b[HeaderTraceparent] == c[HeaderTraceparent] {
			t.Errorf("three calls, one parent id: %v %v %v", a, b, c)
		}
		client.MergeResponseHeaders(ctx, http.Header{}, ForHeaders(c), Status(204))
		client.MergeResponseHeaders(ctx, http.Header{}, Status(503))
	})
	events := flushed(t, client, col)
	sent := ofKind(events, kindRequestSent)
	got := ofKind(events, kindResponseReceived)
	if len(sent) != 3 || len(got) != 2 {
		t.Fatalf("request_sent %d, response_received %d", len(sent), len(got))
	}
	if sent[0].Data["url"] != "http://inventory:8080/reserve" || sent[0].Data["method"] != "POST" ||
		sent[0].Data["host"] != "inventory:8080" || sent[1].Data["url"] != "unknown" ||
		sent[2].Data["url"] != "unknown" || sent[2].Data["method"] != "GET" {
		t.Errorf("targets %v / %v", sent[0].Data, sent[1].Data)
	}
	if got[0].SpanID != sent[2].SpanID || got[0].Data["status"] != float64(204) {
		t.Errorf("ForHeaders ended %s, want %s", got[0].SpanID, sent[2].SpanID)
	}
	if got[1].SpanID != sent[0].SpanID || got[1].Data["status"] != float64(503) {
		t.Errorf("without ForHeaders the oldest open call ends: %s, want %s", got[1].SpanID, sent[0].SpanID)
	}
	for _, e := range append(sent, got...) {
		if *e.ParentSpanID != onlyOne(t, events, kindRequestReceived).SpanID {
			t.Errorf("a manual call is a child of the context's span")
		}
	}
}
