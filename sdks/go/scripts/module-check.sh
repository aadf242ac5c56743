#!/usr/bin/env bash
# The core module's install (a replace directive, and the tagged module through a proxy) is in
# the release dry run (packages/release-tests). This script checks what that run does not: the
# gin and echo adapters, each a module of its own, installed the same way. Offline: the module
# cache already holds what they need (GOPROXY=off). Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SDK="$PWD"
export GOFLAGS=-mod=mod GOPROXY=off GOWORK=off

# A fresh module outside the repository requires the core and both adapters with replace
# directives (as the README says); a gin and an echo service each serve one request, whose
# route template must reach a stand-in collector. The module cache holds gin and echo once the
# adapters' own tests have run.
ADAPTERS=$(mktemp -d)
trap 'rm -rf "$ADAPTERS"' EXIT
cd "$ADAPTERS"
go mod init example.com/fresh-adapters >/dev/null 2>&1
go mod edit -require=github.com/raceway-dev/raceway/sdks/go@v0.1.0 \
  -replace=github.com/raceway-dev/raceway/sdks/go="$SDK"
for adapter in racewaygin racewayecho; do
  go mod edit -require=github.com/raceway-dev/raceway/sdks/go/$adapter@v0.1.0 \
    -replace=github.com/raceway-dev/raceway/sdks/go/$adapter="$SDK/$adapter"
  cat "$SDK/$adapter/go.sum" >> go.sum
done
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

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
	"github.com/raceway-dev/raceway/sdks/go/raceway"
	"github.com/raceway-dev/raceway/sdks/go/racewayecho"
	"github.com/raceway-dev/raceway/sdks/go/racewaygin"
)

func main() {
	var mu sync.Mutex
	var received strings.Builder
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			body, _ = io.ReadAll(zr)
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
	gin.SetMode(gin.ReleaseMode)
	router := gin.New()
	router.Use(racewaygin.Middleware(client))
	router.GET("/gin/:id", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	e := echo.New()
	e.Use(racewayecho.Middleware(client))
	e.GET("/echo/:id", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	for _, app := range []struct {
		handler http.Handler
		path    string
	}{{router, "/gin/7"}, {e, "/echo/7"}} {
		server := httptest.NewServer(app.handler)
		resp, err := http.Get(server.URL + app.path)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		server.Close()
		if resp.Header.Get("X-Raceway-VC") == "" {
			fmt.Fprintf(os.Stderr, "%s was answered without a clock\n", app.path)
			os.Exit(1)
		}
	}
	if err := client.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{`"route":"/gin/:id"`, `"route":"/echo/:id"`} {
		if !strings.Contains(received.String(), want) {
			fmt.Fprintf(os.Stderr, "the collector did not get %s: %s\n", want, received.String())
			os.Exit(1)
		}
	}
	fmt.Println("go SDK's gin and echo middleware from replace directives: routes delivered")
}
GO
# No `go mod tidy`: it would want the test dependencies of gin's and echo's own dependencies,
# which the offline module cache does not hold. With -mod=mod the build adds the requirements it
# needs from the adapters' module graph.
go vet ./...
go run .
