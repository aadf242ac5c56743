package racewayecho_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/raceway-dev/raceway/sdks/go/internal/collectortest"
	"github.com/raceway-dev/raceway/sdks/go/raceway"
	"github.com/raceway-dev/raceway/sdks/go/racewayecho"
)

const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerParent = "00f067aa0ba902b7"
)

func get(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	return e
}

func TestRouteTemplateIncomingContextAndResponseClock(t *testing.T) {
	col, client := collectortest.New(t)
	e := newEcho()
	e.Use(racewayecho.Middleware(client))
	e.GET("/orders/:id", func(c echo.Context) error {
		raceway.TrackStateRead(c.Request().Context(), "order:"+c.Param("id"), raceway.Value(2))
		return c.JSON(http.StatusCreated, map[string]string{"id": c.Param("id")})
	})
	server := httptest.NewServer(e)
	defer server.Close()

	resp := get(t, server.URL+"/orders/42", map[string]string{
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
	received := collectortest.One(t, events, "request_received")
	read := collectortest.One(t, events, "state_read")
	sent := collectortest.One(t, events, "response_sent")
	if received.TraceID != callerTrace || received.ParentSpanID == nil || *received.ParentSpanID != callerParent {
		t.Errorf("request_received did not join the caller's trace: %+v", received)
	}
	if received.Data["route"] != "/orders/:id" || received.Data["path"] != "/orders/42" {
		t.Errorf("request_received data %v", received.Data)
	}
	if sent.Data["route"] != "/orders/:id" || sent.Data["status"] != float64(201) || sent.Data["method"] != "GET" {
		t.Errorf("response_sent data %v", sent.Data)
	}
	if read.TraceID != callerTrace || read.Data["resource"] != "order:42" {
		t.Errorf("state_read %+v", read)
	}
	// The response carries response_sent's clock: after the handler's read.
	own := sent.Component
	if sent.Clock[own] != read.Clock[own]+1 || !strings.Contains(vc, `"`+own+`":`) {
		t.Errorf("response_sent clock %v after read %v; response %s", sent.Clock, read.Clock, vc)
	}
}

func TestReturnedErrorsAndPanicsAreRecorded(t *testing.T) {
	col, client := collectortest.New(t)
	e := newEcho()
	var seenByOuter []error
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			seenByOuter = append(seenByOuter, err)
			return err
		}
	})
	e.Use(middleware.Recover(), racewayecho.Middleware(client))
	e.GET("/refuse", func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusConflict, "stock is gone")
	})
	e.GET("/explode", func(c echo.Context) error { panic(errors.New("boom")) })
	server := httptest.NewServer(e)
	defer server.Close()

	refused := get(t, server.URL+"/refuse", nil)
	if refused.StatusCode != http.StatusConflict || refused.Header.Get("X-Raceway-VC") == "" {
		t.Fatalf("refuse answered %d, headers %v", refused.StatusCode, refused.Header)
	}
	exploded := get(t, server.URL+"/explode", nil)
	if exploded.StatusCode != http.StatusInternalServerError || exploded.Header.Get("X-Raceway-VC") == "" {
		t.Fatalf("panic answered %d, headers %v", exploded.StatusCode, exploded.Header)
	}
	missing := get(t, server.URL+"/missing", nil)
	if missing.StatusCode != http.StatusNotFound || missing.Header.Get("X-Raceway-VC") == "" {
		t.Fatalf("unknown route answered %d, headers %v", missing.StatusCode, missing.Header)
	}
	if len(seenByOuter) != 3 || seenByOuter[0] == nil {
		t.Errorf("the outer middleware saw %v", seenByOuter)
	}

	byTrace := map[string][]collectortest.Event{}
	for _, ev := range col.Events(t, client) {
		byTrace[ev.TraceID] = append(byTrace[ev.TraceID], ev)
	}
	failed := byTrace[refused.Header.Get("X-Raceway-Trace-Id")]
	if ev := collectortest.One(t, failed, "error"); !strings.Contains(ev.Data["message"].(string), "stock is gone") {
		t.Errorf("returned error's event %v", ev.Data)
	}
	if s := collectortest.One(t, failed, "response_sent"); s.Data["status"] != float64(409) || s.Data["route"] != "/refuse" {
		t.Errorf("refuse's response_sent %v", s.Data)
	}
	panicked := byTrace[exploded.Header.Get("X-Raceway-Trace-Id")]
	errEvent := collectortest.One(t, panicked, "error")
	sent := collectortest.One(t, panicked, "response_sent")
	if errEvent.Data["message"] != "boom" || !strings.Contains(errEvent.Data["stack"].(string), "racewayecho_test.go") {
		t.Errorf("panic's error event %v", errEvent.Data)
	}
	if sent.Data["status"] != float64(500) || sent.Data["error"].(map[string]any)["message"] != "boom" {
		t.Errorf("panic's response_sent %v", sent.Data)
	}
	if s := collectortest.One(t, byTrace[missing.Header.Get("X-Raceway-Trace-Id")], "response_sent"); s.Data["status"] != float64(404) || s.Data["route"] != nil {
		t.Errorf("unknown route's response_sent %v", s.Data)
	}
}

func TestDisabledClientPassesThrough(t *testing.T) {
	client, err := raceway.New(raceway.WithDisabled(true))
	if err != nil {
		t.Fatal(err)
	}
	e := newEcho()
	e.Use(racewayecho.Middleware(client))
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	server := httptest.NewServer(e)
	defer server.Close()
	resp := get(t, server.URL+"/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Raceway-Trace-Id") != "" {
		t.Errorf("a disabled client traced: %d %v", resp.StatusCode, resp.Header)
	}
}
