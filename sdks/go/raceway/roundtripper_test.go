package raceway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// callFromHandler serves one request traced by client and, from its handler, calls target
// through client.Transport; check inspects what happened inside the handler.
func callFromHandler(t *testing.T, client *Client, target string, check func(ctx context.Context, resp *http.Response, err error)) {
	t.Helper()
	httpClient := &http.Client{Transport: client.Transport(nil)}
	front := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", target, nil)
		req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") // replaced, not appended
		before := req.Header.Clone()
		resp, err := httpClient.Do(req)
		if len(req.Header) != len(before) || req.Header.Get("X-Raceway-VC") != "" {
			t.Errorf("the caller's request was modified: %v", req.Header)
		}
		check(r.Context(), resp, err)
	})))
	defer front.Close()
	resp, err := http.Get(front.URL + "/front")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestTransportPropagatesAndMergesTheCalleesClock(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	var seen http.Header
	back := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		TrackStateWrite(r.Context(), "stock:7", Value(3), Atomic())
		_, _ = io.WriteString(w, "done")
	})))
	defer back.Close()

	callFromHandler(t, client, back.URL+"/items/7?token=secret", func(ctx context.Context, resp *http.Response, err error) {
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "done" {
			t.Errorf("body %q", body)
		}
		TrackStateRead(ctx, "stock:7")
	})
	if len(seen.Values("Traceparent")) != 1 || len(seen.Values("X-Raceway-VC")) != 1 {
		t.Fatalf("want one copy of each trace header, got %v", seen)
	}

	events := flushed(t, client, col)
	sent := onlyOne(t, events, kindRequestSent)
	got := onlyOne(t, events, kindResponseReceived)
	write := onlyOne(t, events, kindStateWrite)
	read := onlyOne(t, events, kindStateRead)
	backReceived := ofKind(events, kindRequestReceived)[1]

	if sent.Data["url"] != back.URL+"/items/7" || sent.Data["host"] != strings.TrimPrefix(back.URL, "http://") {
		t.Errorf("request_sent target %v (query strings are never recorded)", sent.Data)
	}
	// A trace started by the front server: sampled and random, flags 03 (spec 5.2).
	if seen.Get("traceparent") != "00-"+sent.TraceID+"-"+sent.SpanID+"-03" {
		t.Errorf("traceparent %q does not name the call span %s", seen.Get("traceparent"), sent.SpanID)
	}
	if *backReceived.ParentSpanID != sent.SpanID || backReceived.TraceID != sent.TraceID {
		t.Errorf("callee's parent %v, call span %s", *backReceived.ParentSpanID, sent.SpanID)
	}
	if got.SpanID != sent.SpanID || got.Data["status"] != float64(200) || got.Data["remote_clock"] != true {
		t.Errorf("response_received %s", got.raw)
	}
	// Happens-before: the call, then the callee's write, then the caller's next event.
	if compare(sent.Clock, write.Clock) != OrderBefore || compare(write.Clock, got.Clock) != OrderBefore ||
		compare(write.Clock, read.Clock) != OrderBefore {
		t.Errorf("clocks out of order: sent %v write %v received %v read %v", sent.Clock, write.Clock, got.Clock, read.Clock)
	}
}

func TestTransportRecordsTheResponseWhenItsHeadArrives(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer back.Close()
	callFromHandler(t, client, back.URL+"/a", func(ctx context.Context, resp *http.Response, err error) {
		if err != nil {
			t.Fatal(err)
		}
		// The body is neither read nor closed yet: the call is over for Raceway all the same
		// (spec 4, note b), so a body nobody reads leaves nothing unrecorded.
		TrackStateRead(ctx, "after-head")
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	})
	events := flushed(t, client, col)
	got := onlyOne(t, events, kindResponseReceived)
	after := onlyOne(t, events, kindStateRead)
	if compare(got.Clock, after.Clock) != OrderBefore {
		t.Errorf("response_received should come before the handler's next event: %v %v", got.Clock, after.Clock)
	}
	if got.Data["status"] != float64(200) || got.Data["error"] != nil {
		t.Errorf("response_received %v", got.Data)
	}
	// An uninstrumented callee: no clock to merge.
	if got.Data["remote_clock"] != false {
		t.Errorf("remote_clock %v", got.Data["remote_clock"])
	}
	if errs := ofKind(events, kindError); len(errs) != 0 {
		t.Errorf("a body read to its end is no error: %v", errs)
	}
}

func TestTransportRecordsABodyThatBreaksOffInTheCallsSpan(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A length the body never reaches: the connection is cut after 10 bytes.
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, strings.Repeat("x", 10))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer back.Close()
	callFromHandler(t, client, back.URL+"/cut", func(ctx context.Context, resp *http.Response, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if _, readErr := io.ReadAll(resp.Body); readErr == nil {
			t.Error("want the read of a cut body to fail")
		}
		_, _ = io.ReadAll(resp.Body) // failing again is recorded once
		resp.Body.Close()
	})
	events := flushed(t, client, col)
	got := onlyOne(t, events, kindResponseReceived)
	if got.Data["status"] != float64(200) {
		t.Errorf("response_received %v", got.Data)
	}
	broken := onlyOne(t, events, kindError)
	if broken.SpanID != got.SpanID {
		t.Errorf("the error should be in the call's span %s, is in %s", got.SpanID, broken.SpanID)
	}
	if msg, _ := broken.Data["message"].(string); !strings.Contains(msg, "EOF") {
		t.Errorf("error %v", broken.Data)
	}
	if compare(got.Clock, broken.Clock) != OrderBefore {
		t.Errorf("the error should come after response_received: %v %v", got.Clock, broken.Clock)
	}
}

func TestTransportIgnoresReadsAfterClose(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer back.Close()
	callFromHandler(t, client, back.URL+"/closed", func(ctx context.Context, resp *http.Response, err error) {
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, readErr := resp.Body.Read(make([]byte, 1)); readErr == nil {
			t.Error("want a read after Close to fail")
		}
	})
	events := flushed(t, client, col)
	onlyOne(t, events, kindResponseReceived)
	if errs := ofKind(events, kindError); len(errs) != 0 {
		t.Errorf("a read after Close is the application's doing, not an error of the call: %v", errs)
	}
}

func TestTransportRecordsFailedCalls(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/gone"
	ln.Close()
	callFromHandler(t, client, dead, func(ctx context.Context, resp *http.Response, err error) {
		if err == nil {
			resp.Body.Close()
			t.Fatal("want a connection error")
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) {
			t.Errorf("the transport's error should reach the caller unchanged: %T %v", err, err)
		}
	})
	got := onlyOne(t, flushed(t, client, col), kindResponseReceived)
	if got.Data["error"] == nil || got.Data["status"] != nil {
		t.Errorf("response_received %v", got.Data)
	}
}

func TestTransportKeepsHeadersFromHostsOutsideTheAllowList(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col, WithPropagateTo("inventory.internal"))
	var seen http.Header
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
	}))
	defer back.Close()
	callFromHandler(t, client, back.URL+"/x", func(ctx context.Context, resp *http.Response, err error) {
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	if seen.Get("X-Raceway-Trace-Id") != "" || seen.Get("X-Raceway-VC") != "" {
		t.Errorf("trace headers sent to a host outside the allow-list: %v", seen)
	}
	if seen.Get("Traceparent") != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Errorf("the caller's own header should pass unchanged: %v", seen)
	}
	// The call is recorded either way.
	onlyOne(t, flushed(t, client, col), kindResponseReceived)
}

func TestTransportMarksRequestSentWhenHeadersAreWithheld(t *testing.T) {
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer back.Close()
	for _, tc := range []struct {
		allow    string
		withheld bool
	}{{"inventory.internal", true}, {"127.0.0.1", false}} {
		col := newFakeCollector(t)
		client := newTestClient(t, col, WithPropagateTo(tc.allow))
		callFromHandler(t, client, back.URL+"/x", func(ctx context.Context, resp *http.Response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		})
		sent := onlyOne(t, flushed(t, client, col), kindRequestSent)
		value, present := sent.Data["headers_withheld"]
		if tc.withheld && value != true || !tc.withheld && present {
			t.Errorf("propagate-to %q: request_sent %s", tc.allow, sent.raw)
		}
	}
}

func TestTransportWrappedTwiceTracesTheCallOnce(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	var seen http.Header
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
	defer back.Close()
	twice := &http.Client{Transport: client.Transport(client.Transport(nil))}
	serveOne(t, client, func(ctx context.Context) {
		req, _ := http.NewRequestWithContext(ctx, "GET", back.URL, nil)
		resp, err := twice.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	events := flushed(t, client, col)
	sent := onlyOne(t, events, kindRequestSent)
	onlyOne(t, events, kindResponseReceived)
	if len(seen.Values("Traceparent")) != 1 || !strings.Contains(seen.Get("Traceparent"), sent.SpanID) {
		t.Errorf("headers %v, call span %s", seen, sent.SpanID)
	}
}

func TestTransportPassesRequestsWithoutAContext(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	var seen http.Header
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
	defer back.Close()
	resp, err := (&http.Client{Transport: client.Transport(nil)}).Get(back.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen.Get("Traceparent") != "" || len(flushed(t, client, col)) != 0 {
		t.Errorf("a request outside any traced work was traced")
	}
}

func TestGetTraceHeadersAndMergeResponseHeaders(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	back := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		TrackStateWrite(r.Context(), "k")
	})))
	defer back.Close()
	front := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		req, _ := http.NewRequest("GET", back.URL, nil)
		// The documented form, with the request's ctx.
		headers := client.GetTraceHeaders(ctx)
		req.Header.Set("X-Raceway-Trace-Id", headers["X-Raceway-Trace-Id"])
		req.Header.Set("X-Raceway-VC", headers["X-Raceway-VC"])
		req.Header.Set("traceparent", headers["traceparent"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		client.MergeResponseHeaders(ctx, resp.Header)
		TrackStateRead(ctx, "k")
	})))
	defer front.Close()
	resp, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	events := flushed(t, client, col)
	write := onlyOne(t, events, kindStateWrite)
	read := onlyOne(t, events, kindStateRead)
	if write.TraceID != read.TraceID || compare(write.Clock, read.Clock) != OrderBefore {
		t.Errorf("manual propagation lost the order: write %v read %v", write.Clock, read.Clock)
	}
	if len(client.GetTraceHeaders(context.Background())) != 0 {
		t.Errorf("headers outside any traced work")
	}
}
