package raceway

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// A misconfigured client says so without debug mode (spec 4.2 Warnings, spec 7 Unknown
// variables), on slog.Default(): these tests replace it, so they do not run in parallel.

type capturedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capturedLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capturedLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func captureDefaultLog(t *testing.T) *capturedLog {
	t.Helper()
	captured := &capturedLog{}
	previous := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(captured, nil)))
	t.Cleanup(func() { slog.SetDefault(previous) })
	return captured
}

// waitForLog polls until the log holds want (a failed delivery is asynchronous).
func waitForLog(t *testing.T, log *capturedLog, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", want, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	_ = l.Close()
	return url
}

func TestAnUnreachableCollectorIsAWarningWithoutDebug(t *testing.T) {
	log := captureDefaultLog(t)
	url := closedPortURL(t)
	client, err := New(WithServiceName("loud"), WithServerURL(url), WithFlushInterval(10*time.Millisecond),
		withGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = client.Shutdown(ctx)
	}()
	recordN(client, 1)
	waitForLog(t, log, "raceway: cannot deliver events to "+url+"/v1/events (collector unreachable")
	if !strings.Contains(log.String(), "RACEWAY_URL") {
		t.Errorf("the warning does not say what to check:\n%s", log.String())
	}
}

func TestAWrongAPIKeyIsAWarningNamingTheVariable(t *testing.T) {
	log := captureDefaultLog(t)
	col := newFakeCollector(t)
	col.answer = func(int, wireBatch) (int, string, http.Header) { return 401, "", nil }
	client := newTestClient(t, col, WithAPIKey("wrong"))
	recordN(client, 1)
	waitForLog(t, log, "1 event(s) for "+col.server.URL+"/v1/events dropped: collector answered 401")
	if !strings.Contains(log.String(), "check RACEWAY_API_KEY") {
		t.Errorf("the warning does not name RACEWAY_API_KEY:\n%s", log.String())
	}
}

func TestAMisspeltURLVariableIsNamedAtStartup(t *testing.T) {
	log := captureDefaultLog(t)
	t.Setenv("RACEWAY_SERVER_URL", "http://collector:9000")
	if _, err := New(WithServiceName("s"), WithDisabled(true)); err != nil {
		t.Fatal(err)
	}
	if want := "raceway: RACEWAY_SERVER_URL is set but not read (did you mean RACEWAY_URL?)"; !strings.Contains(log.String(), want) {
		t.Errorf("no %q in the log:\n%s", want, log.String())
	}
}

func TestAHealthyCollectorGetsNoWarning(t *testing.T) {
	log := captureDefaultLog(t)
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	recordN(client, 3)
	if got := len(flushed(t, client, col)); got != 3 {
		t.Fatalf("%d events delivered, want 3", got)
	}
	if log.String() != "" {
		t.Errorf("a healthy collector logged:\n%s", log.String())
	}
}

func TestDeliveryWarningsAreRateLimitedAndCountWhatTheyLeftOut(t *testing.T) {
	var logged capturedLog
	now := time.Unix(1000, 0)
	w := &deliveryWarnings{endpoint: "http://c/v1/events", logger: slog.New(slog.NewTextHandler(&logged, nil)),
		now: func() time.Time { return now }}
	w.failing("refused", 1)
	for i := 0; i < 5; i++ {
		now = now.Add(time.Second)
		w.failing("refused", 2)
	}
	// Another kind has a limit of its own: the first drop is said at once.
	w.dropped(3, "collector answered 401", 401)
	now = now.Add(warningInterval)
	w.failing("refused", 3)
	w.recovered(7)
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), logged.String())
	}
	for i, want := range []string{
		"cannot deliver events to http://c/v1/events (refused)",
		"3 event(s) for http://c/v1/events dropped: collector answered 401; check RACEWAY_API_KEY (WithAPIKey) against the collector's keys\"",
		"(5 more delivery problem(s) since the last warning)",
		"level=INFO msg=\"raceway: collector at http://c/v1/events reachable again after 7 failed attempt(s)\"",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s\nwant it to hold %q", i, lines[i], want)
		}
	}
}
