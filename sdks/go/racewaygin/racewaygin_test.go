package racewaygin_test

import (
	"errors"
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
	collectortest.CheckJoinedOrder(t, col, client, server.URL, "/orders/:id")
}

func TestPendingStatusesGoOutWithTheClock(t *testing.T) {
	col, client := collectortest.New(t)
	router := gin.New()
	router.Use(racewaygin.Middleware(client))
	router.GET("/forbidden", func(c *gin.Context) { c.AbortWithStatus(http.StatusForbidden) })
	server := httptest.NewServer(router)
	defer server.Close()

	for path, status := range map[string]int{"/forbidden": 403, "/missing": 404} {
		resp := collectortest.Get(t, server.URL+path, nil)
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

	exploded := collectortest.Get(t, server.URL+"/explode", nil)
	if exploded.StatusCode != 500 || exploded.Header.Get("X-Raceway-VC") == "" {
		t.Fatalf("panic answered %d, headers %v", exploded.StatusCode, exploded.Header)
	}
	refused := collectortest.Get(t, server.URL+"/refuse", nil)
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
	resp := collectortest.Get(t, server.URL+"/", nil)
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
	resp := collectortest.Get(t, server.URL+"/ws", map[string]string{"Connection": "Upgrade", "Upgrade": "test"})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-served
	sent := collectortest.One(t, col.Events(t, client), "response_sent")
	if sent.Data["status"] != float64(101) || sent.Data["route"] != "/ws" {
		t.Errorf("response_sent %v", sent.Data)
	}
}
