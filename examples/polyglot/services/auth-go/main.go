// Command auth is the polyglot shop's token check, in Go: net/http and its ServeMux, traced by
// Raceway's middleware. Every check is recorded in the audit log through an http.Client on
// Raceway's RoundTripper, so the call joins the checkout's trace and carries its clock.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

const (
	service   = "auth"
	demoToken = "demo-token"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		os.Exit(1)
	}
}

func run() error {
	opts := []raceway.Option{raceway.WithServiceName(service)}
	if ms, err := strconv.Atoi(os.Getenv("SHOP_FLUSH_INTERVAL_MS")); err == nil && ms > 0 {
		opts = append(opts, raceway.WithFlushInterval(time.Duration(ms)*time.Millisecond))
	}
	client, err := raceway.New(opts...)
	if err != nil {
		return err
	}

	checker := &tokenChecker{
		auditURL: envOr("AUDIT_URL", "http://127.0.0.1:3006") + "/records",
		audit:    &http.Client{Transport: client.Transport(nil), Timeout: 5 * time.Second},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("POST /verify", checker.verify)

	addr := net.JoinHostPort(envOr("HOST", "127.0.0.1"), envOr("PORT", "3002"))
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	server := &http.Server{Handler: raceway.Middleware(client)(mux), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("%s listening on http://%s\n", service, listener.Addr())

	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	select {
	case err := <-served:
		return err
	case <-stop.Done():
	}

	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := server.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("%s: shutdown: %v", service, err)
	}
	// Raceway installs no signal handler: flushing before exit is the application's job.
	_ = client.Shutdown(ctx)
	fmt.Printf("%s stopped\n", service)
	return nil
}

// tokenChecker checks bearer tokens and records each check, accepted or not, in the audit log.
type tokenChecker struct {
	auditURL string
	audit    *http.Client
}

// verify checks the bearer token (a signature check's worth of work) and says whose it is. A
// check that cannot be recorded is refused: no audit record, no access.
func (c *tokenChecker) verify(w http.ResponseWriter, r *http.Request) {
	work(5)
	valid := r.Header.Get("Authorization") == "Bearer "+demoToken
	action := "token_rejected"
	if valid {
		action = "token_accepted"
	}
	if err := c.record(r.Context(), action, "demo"); err != nil {
		log.Printf("%s: audit: %v", service, err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "audit_unavailable"})
		return
	}
	if !valid {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"valid": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "user": "demo"})
}

// record posts one audit record. The request is made with the incoming request's context: that
// is what lets the transport find the execution context to trace the call in.
func (c *tokenChecker) record(ctx context.Context, action, subject string) error {
	body, err := json.Marshal(map[string]string{"service": service, "action": action, "subject": subject})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.auditURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.audit.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body) // read to the end: the connection goes back to the pool
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("the audit log answered %s", resp.Status)
	}
	return nil
}

// work waits about ms milliseconds (plus or minus 20 %): the work a real service would do.
func work(ms float64) {
	time.Sleep(time.Duration(ms * (0.8 + rand.Float64()*0.4) * float64(time.Millisecond)))
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
