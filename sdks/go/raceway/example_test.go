package raceway_test

import (
	"context"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

func ExampleMiddleware() {
	client, err := raceway.New(raceway.WithServiceName("checkout"), raceway.WithDisabled(true))
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Shutdown(ctx)
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		raceway.TrackStateRead(r.Context(), "order:"+r.PathValue("id"))
	})
	server := &http.Server{Addr: ":8080", Handler: raceway.Middleware(client)(mux)}
	_ = server // server.ListenAndServe()
	// Output:
}

// The documented manual propagation, with the request's ctx as Go's argument.
func ExampleClient_GetTraceHeaders() {
	client, _ := raceway.New(raceway.WithServiceName("checkout"), raceway.WithDisabled(true))
	handler := func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://inventory:8080/items/7", nil)
		headers := client.GetTraceHeaders(ctx, raceway.Target(req.Method, req.URL.String()))
		req.Header.Set("X-Raceway-Trace-Id", headers["X-Raceway-Trace-Id"])
		req.Header.Set("X-Raceway-VC", headers["X-Raceway-VC"])
		req.Header.Set("traceparent", headers["traceparent"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			client.MergeResponseHeaders(ctx, nil, raceway.CallError(err))
			return
		}
		defer resp.Body.Close()
		client.MergeResponseHeaders(ctx, resp.Header, raceway.Status(resp.StatusCode))
	}
	_ = raceway.Middleware(client)(http.HandlerFunc(handler))
	// Output:
}

func ExampleGo() {
	reserve := func(ctx context.Context, item string) { raceway.TrackStateWrite(ctx, "stock:"+item) }
	handler := func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		// Two items reserved concurrently: each goroutine its own branch, joined by wait.
		waitA := raceway.Go(ctx, func(ctx context.Context) { reserve(ctx, "a") })
		waitB := raceway.Go(ctx, func(ctx context.Context) { reserve(ctx, "b") })
		waitA()
		waitB()
	}
	_ = handler
	// Output:
}

func ExampleWithLock() {
	var stockMu sync.Mutex
	handler := func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		_ = raceway.WithLock(ctx, "stock:sku-42", &stockMu, func() error {
			raceway.TrackStateRead(ctx, "stock:sku-42", raceway.Value(3))
			raceway.TrackStateWrite(ctx, "stock:sku-42", raceway.Value(2))
			return nil
		})
	}
	_ = handler
	// Output:
}
