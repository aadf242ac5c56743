package raceway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Middleware traces the requests a handler serves. It fits net/http and every router that
// takes func(http.Handler) http.Handler (chi's r.Use, gorilla/mux's Use):
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /orders/{id}", getOrder)
//	http.ListenAndServe(":8080", raceway.Middleware(client)(mux))
//
// For each request it extracts the incoming trace context (malformed headers never fail the
// request: the event records what was rejected), starts the request's execution context in
// r.Context(), records request_received, puts X-Raceway-Trace-Id and X-Raceway-VC on the
// response, and records response_sent with the route template (the ServeMux pattern, or
// WithRouteFunc's answer), the status and the duration. A panic is recorded (an error event,
// status 500 unless a status was written) and re-raised. A disabled client returns next.
func Middleware(c *Client) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if c.Disabled() {
			return next
		}
		return &tracingHandler{client: c, next: next}
	}
}

type tracingHandler struct {
	client *Client
	next   http.Handler
}

func (h *tracingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.client.cfg.ignorePath(r.URL.Path) {
		h.next.ServeHTTP(w, r)
		return
	}
	span := h.client.startServerSpan(r)
	sw := &spanWriter{ResponseWriter: w, span: span}
	traced := r.WithContext(withExec(r.Context(), span.x))
	panicked := true
	defer func() {
		if !panicked {
			return
		}
		v := recover()
		if v == nil {
			// runtime.Goexit (t.FailNow in a test handler): no panic to record or re-raise.
			span.end(sw.statusOr(http.StatusOK), h.client.routeOf(traced))
			return
		}
		span.recordPanic(v, debug.Stack())
		sw.finishHeaders()
		span.end(sw.statusOr(defaultErrStatus), h.client.routeOf(traced))
		panic(v)
	}()
	h.next.ServeHTTP(sw, traced)
	panicked = false
	// A handler that wrote nothing gets net/http's implicit 200 after it returns: the clock
	// must be on that response too.
	sw.finishHeaders()
	span.end(sw.statusOr(http.StatusOK), h.client.routeOf(traced))
}

// serverSpan is the server side of one traced request.
type serverSpan struct {
	x       *execContext
	method  string
	started time.Time
	route   string

	mu        sync.Mutex
	headers   *encodedClock // the response_sent step, taken when the headers went out
	headersAt int64         // and when, in microseconds: response_sent's timestamp (spec 4)
	err       *errorData
}

func (c *Client) startServerSpan(r *http.Request) *serverSpan {
	in := extract(r.Header)
	s := &serverSpan{x: c.startServer(in), method: eventMethod(r.Method), started: time.Now()}
	reasons := in.reasons
	if reasons == nil {
		reasons = []string{}
	}
	s.route = routeTemplate(r.Pattern)
	if !s.x.sampled {
		return s // records nothing: no event data to build (spec 5.4)
	}
	s.x.record(kindRequestReceived, requestReceivedData{
		Method:   s.method,
		Path:     cutString(r.URL.Path, maxPath),
		Route:    optionalRoute(s.route),
		Incoming: incomingData{Status: in.status, Reasons: reasons},
	}, nil)
	return s
}

// responseHeaders takes the response_sent clock step and returns it, once (spec 2.6): the
// event itself is recorded when the handler returns, with this snapshot and this time, so that
// it is never stamped after the caller already had the response.
func (s *serverSpan) responseHeaders() encodedClock {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headers == nil {
		clock := s.x.tick()
		s.headers = &clock
		s.headersAt = nowMicros()
	}
	return *s.headers
}

func (s *serverSpan) recordPanic(v any, stack []byte) {
	info := panicInfo(v, stack)
	s.mu.Lock()
	s.err = info
	s.mu.Unlock()
	s.x.record(kindError, *info, nil)
}

func (s *serverSpan) end(status int, route string) {
	if !s.x.sampled {
		return
	}
	if route == "" {
		route = s.route
	}
	clock := s.responseHeaders()
	s.mu.Lock()
	errInfo, headersAt := s.err, s.headersAt
	s.mu.Unlock()
	s.x.record(kindResponseSent, responseSentData{
		Method:     s.method,
		Route:      optionalRoute(route),
		Status:     status,
		DurationMs: durationMs(time.Since(s.started)),
		Error:      errInfo,
	}, &recordOptions{clock: &clock, tsUs: headersAt})
}

// routeOf is the request's route template: WithRouteFunc's answer, else the ServeMux pattern.
func (c *Client) routeOf(r *http.Request) (route string) {
	if c.cfg.routeFunc != nil {
		func() {
			defer func() {
				if recover() != nil {
					route = ""
				}
			}()
			route = c.cfg.routeFunc(r)
		}()
		if route != "" {
			return cutString(route, maxRoute)
		}
	}
	return routeTemplate(r.Pattern)
}

// routeTemplate is the path of a ServeMux pattern ("GET example.com/orders/{id}" gives
// "/orders/{id}"): the method and host are recorded elsewhere or not at all.
func routeTemplate(pattern string) string {
	if pattern == "" {
		return ""
	}
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		pattern = strings.TrimLeft(pattern[i:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	}
	return cutString(pattern, maxRoute)
}

func optionalRoute(route string) *string {
	if route == "" {
		return nil
	}
	return &route
}

// spanWriter puts the trace headers on the response when its status goes out, and remembers
// the status. Unwrap lets http.ResponseController reach the connection's own writer.
type spanWriter struct {
	http.ResponseWriter
	span   *serverSpan
	status int // 0 until the final status was written
}

func (w *spanWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: the final status comes later
		return
	}
	if w.status == 0 {
		w.setTraceHeaders()
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *spanWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.setTraceHeaders()
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *spanWriter) setTraceHeaders() {
	h := w.ResponseWriter.Header()
	setHeader(h, HeaderTraceID, w.span.x.traceID)
	if !w.span.x.sampled {
		return // an unsampled request is answered without a clock (spec 2.6, 5.4)
	}
	clock := w.span.responseHeaders()
	setHeader(h, HeaderVC, clock.header())
}

// finishHeaders sets the trace headers when the handler wrote nothing (they then go out with
// net/http's implicit response).
func (w *spanWriter) finishHeaders() {
	if w.status == 0 {
		w.setTraceHeaders()
	}
}

func (w *spanWriter) statusOr(fallback int) int {
	if w.status == 0 {
		return fallback
	}
	return w.status
}

// ReadFrom keeps io.Copy to the response on the connection's own path (sendfile for files).
func (w *spanWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.setTraceHeaders()
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, r)
}

// writerOnly hides every method but Write, so that io.Copy does not come back to ReadFrom.
type writerOnly struct{ io.Writer }

// Unwrap is for http.ResponseController.
func (w *spanWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps streaming handlers working through the wrapper (they assert http.Flusher).
func (w *spanWriter) Flush() {
	if w.status == 0 {
		w.setTraceHeaders()
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack keeps websocket upgraders working through the wrapper (they assert http.Hijacker).
func (w *spanWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}
