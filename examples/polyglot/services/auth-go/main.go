// Command auth is the polyglot shop's token check, in Go: net/http and its ServeMux, traced by
// Raceway's middleware.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("POST /verify", verify)

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

// verify checks the bearer token (a signature check's worth of work) and says whose it is.
func verify(w http.ResponseWriter, r *http.Request) {
	work(5)
	if r.Header.Get("Authorization") != "Bearer "+demoToken {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"valid": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "user": "demo"})
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
