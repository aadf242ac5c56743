package raceway

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMiddlewareRecordsRequestAndResponseWithRoute(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		TrackStateRead(r.Context(), "order:"+r.PathValue("id"), Value(map[string]int{"qty": 2}), Version(7))
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "ok")
	})
	srv := httptest.NewServer(Middleware(client)(mux))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/orders/42?x=1", nil)
	req.Header.Set("X-Raceway-Trace-Id", "4BF92F35-77B3-4DA6-A3CE-929D0E0E4736")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("X-Raceway-VC", `{"caller#00000001":3}`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Emitted exactly as the contract writes them.
	if got := resp.Header["X-Raceway-Trace-Id"]; len(got) != 1 || got[0] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("response trace id %v", resp.Header)
	}
	vc := decodeClock(resp.Header.Get("X-Raceway-VC"))
	if vc.reason != "" || vc.clock["caller#00000001"] != 3 {
		t.Fatalf("response clock %q", resp.Header.Get("X-Raceway-VC"))
	}

	events := flushed(t, client, col)
	received := onlyOne(t, events, kindRequestReceived)
	read := onlyOne(t, events, kindStateRead)
	sent := onlyOne(t, events, kindResponseSent)
	if received.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || *received.ParentSpanID != "00f067aa0ba902b7" {
		t.Errorf("request_received joined the wrong trace/parent: %s", received.raw)
	}
	// The middleware wraps the mux: the route is known once the mux has routed.
	if received.Data["path"] != "/orders/42" || received.Data["route"] != nil {
		t.Errorf("request_received data %v", received.Data)
	}
	if sent.Data["route"] != "/orders/{id}" || sent.Data["status"] != float64(201) || sent.Data["method"] != "GET" {
		t.Errorf("response_sent data %v", sent.Data)
	}
	if read.Data["value"] == nil || read.Data["version"] != float64(7) {
		t.Errorf("state_read data %v", read.Data)
	}
	own := received.Component
	if !strings.HasPrefix(own, "go-test#") || read.Component != own || sent.Component != own {
		t.Errorf("components %s %s %s", own, read.Component, sent.Component)
	}
	// One increment per event, in order; the response carries response_sent's clock.
	if received.Clock[own] != 1 || read.Clock[own] != 2 || sent.Clock[own] != 3 || vc.clock[own] != 3 {
		t.Errorf("own counters %d %d %d, response %d", received.Clock[own], read.Clock[own], sent.Clock[own], vc.clock[own])
	}
	if received.Data["incoming"].(map[string]any)["status"] != "accepted" {
		t.Errorf("incoming %v", received.Data["incoming"])
	}
}

func TestMiddlewareRecordsMalformedContextWithoutFailingTheRequest(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	srv := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/pay", strings.NewReader("{}"))
	req.Header.Set("X-Raceway-Trace-Id", "not-a-trace")
	req.Header.Set("X-Raceway-VC", `{"a":0}`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Raceway-VC") == "" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
	}
	received := onlyOne(t, flushed(t, client, col), kindRequestReceived)
	incoming := received.Data["incoming"].(map[string]any)
	if incoming["status"] != "rejected" || len(incoming["reasons"].([]any)) != 1 {
		t.Errorf("incoming %v", incoming)
	}
	if received.ParentSpanID != nil || received.TraceID == "" {
		t.Errorf("a new trace should start: %s", received.raw)
	}
}

func TestMiddlewareRecordsAndReraisesPanics(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	boom := errors.New("boom")
	var reraised any
	handler := Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(boom)
	}))
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			reraised = recover()
			w.WriteHeader(http.StatusInternalServerError)
		}()
		handler.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(outer)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/explode")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if reraised != boom {
		t.Fatalf("the panic was not re-raised as is: %v", reraised)
	}
	events := flushed(t, client, col)
	errEvent := onlyOne(t, events, kindError)
	sent := onlyOne(t, events, kindResponseSent)
	if errEvent.Data["message"] != "boom" || !strings.Contains(errEvent.Data["stack"].(string), "middleware_test.go") {
		t.Errorf("error event %v", errEvent.Data)
	}
	if sent.Data["status"] != float64(500) || sent.Data["error"].(map[string]any)["message"] != "boom" {
		t.Errorf("response_sent %v", sent.Data)
	}
}

func TestMiddlewareSetsHeadersOnImplicitResponsesAndSkipsIgnoredPaths(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	srv := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("the wrapped writer lost http.Flusher")
		}
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/quiet")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Raceway-Trace-Id") == "" || resp.Header.Get("X-Raceway-VC") == "" {
		t.Errorf("implicit 200 without trace headers: %v", resp.Header)
	}
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Raceway-VC") != "" {
		t.Errorf("an ignored path was traced")
	}
	if n := len(ofKind(flushed(t, client, col), kindRequestReceived)); n != 1 {
		t.Errorf("want 1 traced request, got %d", n)
	}
}

func TestMiddlewareKeepsStreamingAndCopyPaths(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	srv := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("the wrapped writer lost io.ReaderFrom")
		}
		_, _ = io.Copy(w, strings.NewReader("copied"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController through the wrapper: %v", err)
		}
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/copy")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "copied" || resp.Header.Get("X-Raceway-VC") == "" {
		t.Errorf("body %q headers %v", body, resp.Header)
	}
	sent := onlyOne(t, flushed(t, client, col), kindResponseSent)
	if sent.Data["status"] != float64(200) {
		t.Errorf("status %v", sent.Data["status"])
	}
}

func TestRouteTemplate(t *testing.T) {
	for pattern, want := range map[string]string{
		"":                             "",
		"/orders/{id}":                 "/orders/{id}",
		"GET /orders/{id}":             "/orders/{id}",
		"POST example.com/pay/{$}":     "/pay/{$}",
		"example.com/static/{path...}": "/static/{path...}",
	} {
		if got := routeTemplate(pattern); got != want {
			t.Errorf("routeTemplate(%q) = %q, want %q", pattern, got, want)
		}
	}
}

// response_sent is stamped when the response head is written, not when the handler returns:
// a caller that has the response already must never see the callee's response_sent after it.
func TestResponseSentIsStampedWhenTheHeadIsWritten(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(50 * time.Millisecond) // work after the head went out
	})
	srv := httptest.NewServer(Middleware(client)(handler))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/slow-tail")
	if err != nil {
		t.Fatal(err)
	}
	headAt := time.Now().UnixMicro()
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	sent := onlyOne(t, flushed(t, client, col), kindResponseSent)
	if sent.TsUs > headAt {
		t.Errorf("response_sent stamped %d µs after the client had the head", sent.TsUs-headAt)
	}
}
