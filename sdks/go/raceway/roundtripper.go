package raceway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
)

// Transport wraps base (http.DefaultTransport when nil) so that every request whose context
// carries a Raceway execution context is traced: request_sent, the trace headers on a clone of
// the request (never the caller's) when the allow-list lets them through, the callee's clock
// merged from the response, and response_received when the response head arrives (or the call
// fails); a body that breaks off later is an error event in the call's span. Requests without a
// Raceway context pass through untouched.
//
//	httpClient := &http.Client{Transport: client.Transport(nil)}
//	req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://inventory:8080/items/7", nil)
//	resp, err := httpClient.Do(req)
func (c *Client) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if c.Disabled() {
		return base
	}
	return &roundTripper{client: c, base: base}
}

// tracedCallKey marks the context of a request that a Raceway transport traces already.
type tracedCallKey struct{}

type roundTripper struct {
	client *Client
	base   http.RoundTripper
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	x := execFrom(ctx)
	if x == nil || ctx.Value(tracedCallKey{}) != nil {
		// Outside traced work, or a Raceway transport wrapped in another one: the outer one
		// traces the call, once.
		return t.base.RoundTrip(req)
	}
	propagate := t.client.shouldPropagate(req.URL)
	call := x.startCall(req.Method, req.URL, !propagate)
	// RoundTrippers must not modify the request: the headers go on a clone, whose context
	// tells a nested Raceway transport that this call is traced already.
	out := req.Clone(context.WithValue(ctx, tracedCallKey{}, call))
	if propagate {
		inject(call.outgoing(), out.Header)
	} else {
		t.client.noteUnpropagated(req.URL)
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		call.end(0, false, err)
		return resp, err
	}
	// The callee's clock is merged now, before the caller's next event (spec 2.6), and the call
	// ends now: net/http hands the response to the application when its head has arrived
	// (spec 4, note b). A body nobody reads to the end leaves nothing unrecorded.
	call.end(resp.StatusCode, x.mergeResponse(resp.Header), nil)
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		// No body to break off; a 101's body is the connection itself and must keep its type.
		return resp, nil
	}
	resp.Body = &callBody{body: resp.Body, call: call}
	return resp, nil
}

// callBody records a body that breaks off (a read that fails with anything but io.EOF before
// the application closes it) as an error event in the call's span.
type callBody struct {
	body   io.ReadCloser
	call   *clientCall
	closed atomic.Bool
}

func (b *callBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	// A read after Close fails too; that is the application's doing, not the body's.
	if err != nil && !errors.Is(err, io.EOF) && !b.closed.Load() {
		b.call.bodyFailed(err)
	}
	return n, err
}

func (b *callBody) Close() error {
	b.closed.Store(true)
	return b.body.Close()
}

// noteUnpropagated says in the debug log, once per host, that a host got no trace headers
// (spec 6.3): the usual reason a trace stops at a service that is in fact instrumented.
func (c *Client) noteUnpropagated(u *url.URL) {
	if c.cfg.logger == nil || u == nil {
		return
	}
	if _, seen := c.unpropagated.LoadOrStore(u.Host, struct{}{}); !seen {
		c.cfg.logger.Info("outgoing calls to this host get no trace headers (not on the propagate-to allow-list)", "host", u.Host)
	}
}
