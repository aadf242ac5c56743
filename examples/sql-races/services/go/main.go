// The order and inventory services in Go: net/http traced by Raceway's middleware, every
// statement reported by the pool racewaysql opened. No tracking call anywhere in the services'
// code.
//
//	sql-races-go order       # POST /orders/{id}?mode=M         owns `stock`
//	sql-races-go inventory   # POST /stock/{id}/reserve?mode=M  owns `reserved`
//
// Configured by the environment: PORT, DATABASE (`sqlite:<file>` or a postgres:// URL),
// RACEWAY_URL, RACE_PAUSE_MS. SIGTERM finishes the requests in flight, sends every queued event
// and exits 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

func main() {
	service := "order"
	if len(os.Args) > 1 {
		service = os.Args[1]
	}
	if service != "order" && service != "inventory" {
		log.Fatal("usage: sql-races-go order|inventory")
	}
	database := os.Getenv("DATABASE")
	if database == "" {
		database = "sqlite:shop.db"
	}
	db, err := openDB(database)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	tracer, err := raceway.New(raceway.WithServiceName(service))
	if err != nil {
		log.Fatal(err)
	}

	column, route := "stock", "POST /orders/{id}"
	if service == "inventory" {
		column, route = "reserved", "POST /stock/{id}/reserve"
	}
	mux := http.NewServeMux()
	mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			answer(w, http.StatusBadRequest, map[string]any{"error": "id must be an integer"})
			return
		}
		mode := r.URL.Query().Get("mode")
		if mode == "" {
			mode = "naive"
		}
		retries, err := takeOne(r.Context(), db, mode, id, column)
		if err != nil {
			answer(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		answer(w, http.StatusOK, map[string]any{"service": service, "mode": mode, "retries": retries})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, map[string]any{"service": service})
	})

	port := os.Getenv("PORT")
	if port == "" {
		port = "3001"
	}
	server := &http.Server{Addr: net.JoinHostPort("127.0.0.1", port), Handler: raceway.Middleware(tracer)(mux)}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	served := make(chan error, 1)
	go func() { served <- server.ListenAndServe() }()
	select {
	case err := <-served:
		log.Fatal(err)
	case <-stop:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
	// Raceway installs no signal handler: sending what is queued before exit is the
	// application's job.
	if err := tracer.Shutdown(ctx); err != nil {
		log.Print(err)
	}
}

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
