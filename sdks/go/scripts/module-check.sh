#!/usr/bin/env bash
# The README's install from a checkout, as a user does it: a fresh module outside the
# repository requires the SDK with a `replace` directive to this directory, builds a service
# with it, and runs it: one request through raceway.Middleware to a stand-in collector, then the
# README's shutdown, and the request's events must have arrived. Offline: the module cache
# already holds what the SDK needs (GOPROXY=off). Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SDK="$PWD"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export GOFLAGS=-mod=mod GOPROXY=off GOWORK=off
go mod init example.com/fresh >/dev/null 2>&1
go mod edit -require=github.com/raceway-dev/raceway/sdks/go@v0.1.0 \
  -replace=github.com/raceway-dev/raceway/sdks/go="$SDK"
cat > main.go <<'GO'
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

func main() {
	var mu sync.Mutex
	var received strings.Builder
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				body, _ = io.ReadAll(zr)
			}
		}
		mu.Lock()
		received.Write(body)
		mu.Unlock()
		fmt.Fprint(w, `{"accepted":0,"duplicates":0}`)
	}))
	defer collector.Close()

	client, err := raceway.New(raceway.WithServiceName("fresh"), raceway.WithServerURL(collector.URL),
		raceway.WithFlushInterval(time.Minute))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		raceway.TrackStateRead(r.Context(), "item:"+r.PathValue("id"), raceway.Value(1))
		fmt.Fprint(w, "ok")
	})
	server := httptest.NewServer(raceway.Middleware(client)(mux))
	resp, err := http.Get(server.URL + "/items/7")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	traceID := resp.Header.Get("X-Raceway-Trace-Id")
	server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Shutdown(ctx); err != nil {
		panic(err)
	}
	mu.Lock()
	defer mu.Unlock()
	got := received.String()
	for _, want := range []string{traceID, `"request_received"`, `"state_read"`, `"route":"/items/{id}"`} {
		if traceID == "" || !strings.Contains(got, want) {
			fmt.Fprintf(os.Stderr, "the collector did not get %s: %s\n", want, got)
			os.Exit(1)
		}
	}
	fmt.Println("go SDK from a replace directive: trace", traceID, "delivered")
}
GO
go mod tidy >/dev/null
go vet ./...
go run .
