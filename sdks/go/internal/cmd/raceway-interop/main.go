// Command raceway-interop is the Go service that the cross-language tests
// (packages/interop-tests/src/go) start as a real process. It reports to the collector named by
// RACEWAY_URL as RACEWAY_SERVICE_NAME, listens on 127.0.0.1 (port 0 unless -addr says
// otherwise) and prints one JSON line, {"url": "http://127.0.0.1:<port>"}, once it accepts
// connections.
//
// Routes:
//
//	GET  /chain?next=<url>      writes visit:<service>, calls next (when given) through
//	                            Client.Transport, then reads visit:<service>
//	GET  /reserve?value=<n>&barrier=<url>
//	                            a read-modify-write of stock:1 that waits at barrier (an
//	                            untraced GET) between the read and the write: a lost update
//	                            when two services run it at once
//	GET  /increment             a read-modify-write of counter under raceway.WithLock with
//	                            a real mutex: concurrent calls lose nothing
//	POST /flush                 flushes the client (the tests flush before they query)
//
// It stops on SIGTERM or SIGINT as the README shows (signal.NotifyContext, then the server's
// and the client's Shutdown), which sends what the last requests recorded.
// INTEROP_FLUSH_INTERVAL_MS replaces -flush-interval (a test of that shutdown sets it high).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flush := flag.Duration("flush-interval", 50*time.Millisecond, "transport flush interval")
	flag.Parse()

	if ms, err := strconv.Atoi(os.Getenv("INTEROP_FLUSH_INTERVAL_MS")); err == nil {
		*flush = time.Duration(ms) * time.Millisecond
	}
	client, err := raceway.New(raceway.WithFlushInterval(*flush))
	if err != nil {
		log.Fatal(err)
	}
	traced := &http.Client{Transport: client.Transport(nil), Timeout: 10 * time.Second}
	untraced := &http.Client{Timeout: 10 * time.Second}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /chain", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		resource := "visit:" + client.ServiceName()
		raceway.TrackStateWrite(ctx, resource, raceway.Value(1))
		var downstream any
		if next := r.URL.Query().Get("next"); next != "" {
			body, err := get(ctx, traced, next)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			downstream = body
		}
		raceway.TrackStateRead(ctx, resource, raceway.Value(1))
		writeJSON(w, map[string]any{"service": client.ServiceName(), "traceId": raceway.TraceID(ctx), "downstream": downstream})
	})
	mux.HandleFunc("GET /reserve", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		value, err := strconv.Atoi(r.URL.Query().Get("value"))
		if err != nil {
			http.Error(w, "value must be an integer", http.StatusBadRequest)
			return
		}
		raceway.TrackStateRead(ctx, "stock:1", raceway.Value(value))
		if b := r.URL.Query().Get("barrier"); b != "" {
			// The barrier stands in for the time a database round trip takes; it is not a
			// traced call of the service.
			if _, err := get(context.Background(), untraced, b); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
		raceway.TrackStateWrite(ctx, "stock:1", raceway.Value(value-1))
		writeJSON(w, map[string]any{"left": value - 1})
	})
	var counterMu sync.Mutex
	counter := 0
	mux.HandleFunc("GET /increment", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var now int
		_ = raceway.WithLock(ctx, "counter", &counterMu, func() error {
			seen := counter
			raceway.TrackStateRead(ctx, "counter", raceway.Value(seen))
			time.Sleep(5 * time.Millisecond) // without the lock, other requests read seen meanwhile
			counter, now = seen+1, seen+1
			raceway.TrackStateWrite(ctx, "counter", raceway.Value(now))
			return nil
		})
		writeJSON(w, map[string]any{"value": now})
	})
	mux.HandleFunc("POST /flush", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := client.Flush(ctx); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, client.Stats())
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The README's pattern: the signal ends ctx; the server finishes the requests in flight,
	// then the client sends what they recorded.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	server := &http.Server{Handler: raceway.Middleware(client)(mux), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
			stop()
		}
	}()
	line, _ := json.Marshal(map[string]string{"url": "http://" + ln.Addr().String()})
	fmt.Println(string(line))

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdownCtx)
	if err := client.Shutdown(shutdownCtx); err != nil {
		log.Printf("raceway shutdown: %v", err)
	}
}

func get(ctx context.Context, c *http.Client, url string) (any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, raw)
	}
	var body any
	if err := json.Unmarshal(raw, &body); err != nil {
		return string(raw), nil
	}
	return body, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
