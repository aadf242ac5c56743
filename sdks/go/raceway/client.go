// Package raceway records how the work of a Go service relates to the other services of a
// trace, with vector clocks, so that the Raceway collector can rebuild one causal picture per
// request: call graph, critical path, and races on shared state between services.
//
// A client (New) owns the configuration and the background transport to the collector.
// Middleware traces incoming requests, Client.Transport outgoing ones; the request's execution
// context travels in its context.Context, and TrackStateRead, TrackStateWrite, WithLock,
// RecordError and RecordEvent record into it. Goroutines the application starts with the
// request's ctx share its execution context (safely); Fork and Go give a goroutine its own.
package raceway

import (
	"context"
	"net/http"
	"net/url"
	"sync"
)

// Client records events and sends them to the collector in the background. Make one per
// process with New and call Shutdown before exit. A nil or disabled client does nothing: its
// middleware and transport pass requests through unchanged.
type Client struct {
	cfg          config
	servicePart  string
	exporter     *exporter // nil when disabled
	unpropagated sync.Map  // hosts already named in the debug log as getting no headers
}

// New makes a client from options and the environment (RACEWAY_SERVICE_NAME, RACEWAY_URL,
// RACEWAY_API_KEY, RACEWAY_DISABLED, RACEWAY_SAMPLE_RATE, RACEWAY_DEBUG, RACEWAY_PROPAGATE_TO,
// RACEWAY_INSTANCE). It returns a *ConfigError for an option it refuses, so that a
// misconfiguration shows at startup, and starts the transport goroutine unless disabled.
func New(opts ...Option) (*Client, error) {
	cfg, err := resolveConfig(opts)
	if err != nil {
		return nil, err
	}
	warnMisspelt(cfg)
	c := &Client{cfg: cfg, servicePart: sanitizeServiceName(cfg.serviceName)}
	if !cfg.disabled {
		c.exporter = newExporter(cfg)
	}
	return c, nil
}

// Disabled reports whether the client records nothing (WithDisabled, RACEWAY_DISABLED, nil).
func (c *Client) Disabled() bool { return c == nil || c.exporter == nil }

// ServiceName is the configured service name.
func (c *Client) ServiceName() string {
	if c == nil {
		return ""
	}
	return c.cfg.serviceName
}

// Environment is the configured deployment environment (WithEnvironment), "" when none.
func (c *Client) Environment() string {
	if c == nil {
		return ""
	}
	return c.cfg.environment
}

// Version is the configured service version (WithVersion), "" when none.
func (c *Client) Version() string {
	if c == nil {
		return ""
	}
	return c.cfg.version
}

// Shutdown flushes what is queued and stops the transport. Events still queued when ctx ends
// are dropped and counted; Shutdown then returns ctx.Err(). When the collector does not answer
// the last retries, the rest is dropped and counted at once and Shutdown returns
// ErrUndelivered. Events recorded after Shutdown are dropped and counted. Safe to call more
// than once.
func (c *Client) Shutdown(ctx context.Context) error {
	if c.Disabled() {
		return nil
	}
	return c.exporter.shutdown(ctx)
}

// Flush sends what is queued now and waits until it is delivered, dropped, or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	if c.Disabled() {
		return nil
	}
	return c.exporter.flush(ctx)
}

// Stats are the transport's counters since New.
type Stats struct {
	Queued      int    // events held now, in flight included
	Sent        uint64 // events the collector acknowledged (new or duplicates)
	Dropped     uint64 // events lost: queue full, refused by the collector, retries exhausted, shutdown
	Rejected    uint64 // events the collector refused one by one (422); included in Dropped
	Retries     uint64 // batch retries
	BatchesSent uint64 // batches acknowledged
	LastError   string // the last problem, "" when none
}

// Stats returns the transport's counters.
func (c *Client) Stats() Stats {
	if c.Disabled() {
		return Stats{}
	}
	return c.exporter.stats()
}

func (c *Client) emit(e *event) {
	if c.exporter != nil {
		c.exporter.enqueue(e)
	}
}

// startServer starts the execution context of one incoming request (spec 3.2): it joins the
// incoming trace or roots a new one, takes the incoming clock, and follows the caller's
// sampling decision when there is one.
func (c *Client) startServer(in incoming) *execContext {
	x := &execContext{
		client:       c,
		traceID:      in.traceID,
		spanID:       newSpanID(),
		parentSpanID: in.parentSpanID,
		component:    newComponent(c.servicePart),
		tracestate:   in.tracestate,
		clock:        vclock{},
		clockDropped: in.clockDropped,
	}
	if x.traceID == "" {
		x.traceID = newTraceID()
	}
	if in.clock != nil {
		x.clock = in.clock
	}
	x.flags = decideFlags(x.traceID, c.cfg.sampleRate, in.traceID != "", in.traceFlags)
	x.sampled = isSampled(x.flags)
	return x
}

// shouldPropagate applies the allow-list to an outgoing URL.
func (c *Client) shouldPropagate(u *url.URL) bool {
	return u != nil && c.cfg.propagate(u)
}

// A CallOption describes a call made by hand (GetTraceHeaders, MergeResponseHeaders).
type CallOption func(*manualCall)

type manualCall struct {
	method, url string
	status      int
	err         error
	headers     map[string]string
}

// Target names the method and URL of a call made by hand, so that it is recorded as an edge
// of the dependency graph like an instrumented call (spec 2.7).
func Target(method, url string) CallOption {
	return func(m *manualCall) { m.method, m.url = method, url }
}

// Status is the status of the response a call made by hand got.
func Status(code int) CallOption { return func(m *manualCall) { m.status = code } }

// CallError is the error a call made by hand failed with.
func CallError(err error) CallOption { return func(m *manualCall) { m.err = err } }

// ForHeaders says which call made by hand a response ends: the one GetTraceHeaders returned
// these headers for. Without it, MergeResponseHeaders ends the oldest call still open.
func ForHeaders(headers map[string]string) CallOption {
	return func(m *manualCall) { m.headers = headers }
}

// GetTraceHeaders starts one client call made by hand, for an HTTP client that
// Client.Transport does not wrap (spec 2.7): a new span id and a request_sent event, and the
// headers to send, keyed by the names the contract emits:
//
//	headers := client.GetTraceHeaders(ctx, raceway.Target("GET", url))
//	req.Header.Set("X-Raceway-Trace-Id", headers["X-Raceway-Trace-Id"])
//	req.Header.Set("X-Raceway-VC", headers["X-Raceway-VC"])
//	req.Header.Set("traceparent", headers["traceparent"])
//	...
//	client.MergeResponseHeaders(ctx, resp.Header, raceway.Status(resp.StatusCode))
//
// Go has no ambient context: the request's ctx is the argument that the other SDKs' form
// (getTraceHeaders()) leaves implicit. The headers are returned whatever the allow-list says
// (the application chose to send them); an unsampled trace gets no X-Raceway-VC (spec 5.4).
// The map is empty when ctx carries no Raceway context.
func (c *Client) GetTraceHeaders(ctx context.Context, opts ...CallOption) map[string]string {
	headers := map[string]string{}
	x := execFrom(ctx)
	if x == nil || c.Disabled() {
		return headers
	}
	var m manualCall
	for _, opt := range opts {
		if opt != nil {
			opt(&m)
		}
	}
	// Without a target, or with one that is not an absolute URL, the call is recorded as a GET
	// of `unknown` (spec 2.7).
	method := m.method
	u, err := url.Parse(m.url)
	if err != nil || u.Host == "" {
		u, method = nil, "GET"
	}
	call := x.startCall(method, u, false)
	h := http.Header{}
	inject(call.outgoing(), h)
	for name, values := range h {
		headers[name] = values[0]
	}
	x.openManualCall(call)
	return headers
}

// MergeResponseHeaders ends a call made by hand (spec 2.7): it takes the callee's clock from
// the response headers (spec 2.6), so that what ctx records next is ordered after what the
// callee did, then records the call's response_received, with Status or CallError when given.
// The call is the one ForHeaders names, else the oldest still open; with none open only the
// clock is merged. Headers of another trace and invalid clocks are ignored.
func (c *Client) MergeResponseHeaders(ctx context.Context, h http.Header, opts ...CallOption) {
	x := execFrom(ctx)
	if x == nil || c.Disabled() {
		return
	}
	var m manualCall
	for _, opt := range opts {
		if opt != nil {
			opt(&m)
		}
	}
	remote := x.mergeResponse(h)
	traceparent := ""
	if m.headers != nil {
		traceparent = m.headers[HeaderTraceparent]
	}
	if call := x.closeManualCall(traceparent); call != nil {
		call.end(m.status, remote, m.err)
	}
}

// mergeResponse merges a valid X-Raceway-VC of a response of the same trace; it reports
// whether it did.
func (x *execContext) mergeResponse(h http.Header) bool {
	if !x.sampled {
		return false // an unsampled context has no clock to merge into (spec 5.4)
	}
	id, present, conflict := singleValue(headerCopies(headerValues(h, HeaderTraceID), true))
	if !present || conflict {
		return false
	}
	if traceID, ok := normalizeTraceID(id); !ok || traceID != x.traceID {
		return false
	}
	vc, present, conflict := singleValue(headerCopies(headerValues(h, HeaderVC), false))
	if !present || conflict {
		return false
	}
	d := decodeClock(vc)
	if d.reason != "" {
		return false
	}
	x.merge(d.clock, d.dropped)
	return true
}
