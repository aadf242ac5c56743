package racewaygin_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/raceway-dev/raceway/sdks/go/internal/collectortest"
	"github.com/raceway-dev/raceway/sdks/go/raceway"
	"github.com/raceway-dev/raceway/sdks/go/racewaygin"
)

func init() { gin.SetMode(gin.TestMode) }

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

func TestRouteTemplateIncomingContextAndResponseClock(t *testing.T) {
	col, client := collectortest.New(t)
	router := gin.New()
	router.Use(racewaygin.Middleware(client))
	router.GET("/orders/:id", func(c *gin.Context) {
		raceway.TrackStateRead(c.Request.Context(), "order:"+c.Param("id"), raceway.Value(2))
		c.JSON(http.StatusCreated, gin.H{"id": c.Param("id")})
	})
	server := httptest.NewServer(router)
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

func TestPendingStatusesGoOutWithTheClock(t *testing.T) {
	col, client := collectortest.New(t)
	router := gin.New()
	router.Use(racewaygin.Middleware(client))
	router.GET("/forbidden", func(c *gin.Context) { c.AbortWithStatus(http.StatusForbidden) })
	server := httptest.NewServer(router)
	defer server.Close()

	for path, status := range map[string]int{"/forbidden": 403, "/missing": 404} {
		resp := get(t, server.URL+path, nil)
		if resp.StatusCode != status || resp.Header.Get("X-Raceway-VC") == "" {
			t.Errorf("%s: status %d, headers %v", path, resp.StatusCode, resp.Header)
		}
	}
	statuses := map[any]any{}
	for _, e := range col.Events(t, client) {
		if e.Kind == "response_sent" {
			statuses[e.Data["status"]] = e.Data["route"]
		}
	}
	if len(statuses) != 2 || statuses[float64(403)] != "/forbidden" || statuses[float64(404)] != nil {
		t.Errorf("recorded statuses and routes %v", statuses)
	}
}

func TestPanicsAndHandlerErrorsAreRecorded(t *testing.T) {
	col, client := collectortest.New(t)
	router := gin.New()
	router.Use(gin.CustomRecovery(func(c *gin.Context, _ any) { c.AbortWithStatus(http.StatusInternalServerError) }),
		racewaygin.Middleware(client))
	router.GET("/explode", func(c *gin.Context) { panic(errors.New("boom")) })
	router.GET("/refuse", func(c *gin.Context) {
		_ = c.Error(errors.New("stock is gone"))
		c.String(http.StatusConflict, "no")
	})
	server := httptest.NewServer(router)
	defer server.Close()

	exploded := get(t, server.URL+"/explode", nil)
	if exploded.StatusCode != 500 || exploded.Header.Get("X-Raceway-VC") == "" {
		t.Fatalf("panic answered %d, headers %v", exploded.StatusCode, exploded.Header)
	}
	refused := get(t, server.URL+"/refuse", nil)
	if refused.StatusCode != 409 {
		t.Fatalf("refuse answered %d", refused.StatusCode)
	}

	events := col.Events(t, client)
	byTrace := map[string][]collectortest.Event{}
	for _, e := range events {
		byTrace[e.TraceID] = append(byTrace[e.TraceID], e)
	}
	panicked := byTrace[exploded.Header.Get("X-Raceway-Trace-Id")]
	errEvent := collectortest.One(t, panicked, "error")
	sent := collectortest.One(t, panicked, "response_sent")
	if errEvent.Data["message"] != "boom" || !strings.Contains(errEvent.Data["stack"].(string), "racewaygin_test.go") {
		t.Errorf("panic's error event %v", errEvent.Data)
	}
	if sent.Data["status"] != float64(500) || sent.Data["error"].(map[string]any)["message"] != "boom" ||
		sent.Data["route"] != "/explode" {
		t.Errorf("panic's response_sent %v", sent.Data)
	}
	failed := byTrace[refused.Header.Get("X-Raceway-Trace-Id")]
	if e := collectortest.One(t, failed, "error"); e.Data["message"] != "stock is gone" {
		t.Errorf("c.Error's error event %v", e.Data)
	}
	if s := collectortest.One(t, failed, "response_sent"); s.Data["status"] != float64(409) {
		t.Errorf("refuse's response_sent %v", s.Data)
	}
}

func TestDisabledClientPassesThrough(t *testing.T) {
	client, err := raceway.New(raceway.WithDisabled(true))
	if err != nil {
		t.Fatal(err)
	}
	router := gin.New()
	router.Use(racewaygin.Middleware(client))
	router.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	server := httptest.NewServer(router)
	defer server.Close()
	resp := get(t, server.URL+"/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Raceway-Trace-Id") != "" {
		t.Errorf("a disabled client traced: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestHijackedConnectionsAreRecordedAsUpgrades(t *testing.T) {
	col, client := collectortest.New(t)
	router := gin.New()
	// The client sees the 101 before the handler returns and the middleware records the
	// response: the events are read once the whole chain has returned.
	served := make(chan struct{})
	router.Use(func(c *gin.Context) {
		defer close(served)
		c.Next()
	})
	router.Use(racewaygin.Middleware(client))
	router.GET("/ws", func(c *gin.Context) {
		conn, rw, err := c.Writer.Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		_ = rw.Flush()
	})
	server := httptest.NewServer(router)
	defer server.Close()
	resp := get(t, server.URL+"/ws", map[string]string{"Connection": "Upgrade", "Upgrade": "test"})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-served
	sent := collectortest.One(t, col.Events(t, client), "response_sent")
	if sent.Data["status"] != float64(101) || sent.Data["route"] != "/ws" {
		t.Errorf("response_sent %v", sent.Data)
	}
}
