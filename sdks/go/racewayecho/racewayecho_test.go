package racewayecho_test

import (
	"errors"
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
	collectortest.CheckJoinedOrder(t, col, client, server.URL, "/orders/:id")
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

	refused := collectortest.Get(t, server.URL+"/refuse", nil)
	if refused.StatusCode != http.StatusConflict || refused.Header.Get("X-Raceway-VC") == "" {
		t.Fatalf("refuse answered %d, headers %v", refused.StatusCode, refused.Header)
	}
	exploded := collectortest.Get(t, server.URL+"/explode", nil)
	if exploded.StatusCode != http.StatusInternalServerError || exploded.Header.Get("X-Raceway-VC") == "" {
		t.Fatalf("panic answered %d, headers %v", exploded.StatusCode, exploded.Header)
	}
	missing := collectortest.Get(t, server.URL+"/missing", nil)
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
	resp := collectortest.Get(t, server.URL+"/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Raceway-Trace-Id") != "" {
		t.Errorf("a disabled client traced: %d %v", resp.StatusCode, resp.Header)
	}
}
