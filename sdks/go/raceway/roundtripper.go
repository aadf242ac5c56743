package raceway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
)

// Transport wraps base (http.DefaultTransport when nil) so that every request whose context
// carries a Raceway execution context is traced: request_sent, the trace headers on a clone of
// the request (never the caller's) when the allow-list lets them through, the callee's clock
// merged from the response, and response_received when the response body is read to its end,
// closed, or fails. Requests without a Raceway context pass through untouched.
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
	call := x.startCall(req.Method, req.URL)
	// RoundTrippers must not modify the request: the headers go on a clone, whose context
	// tells a nested Raceway transport that this call is traced already.
	out := req.Clone(context.WithValue(ctx, tracedCallKey{}, call))
	if t.client.shouldPropagate(req.URL) {
		inject(call.outgoing(), out.Header)
	} else {
		t.client.noteUnpropagated(req.URL)
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		call.end(0, false, err)
		return resp, err
	}
	// The callee's clock is merged now, before the caller's next event (spec 2.6).
	remote := x.mergeResponse(resp.Header)
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		// Nothing to wait for; a 101's body is the connection itself and must keep its type.
		call.end(resp.StatusCode, remote, nil)
		return resp, nil
	}
	resp.Body = &callBody{body: resp.Body, call: call, status: resp.StatusCode, remote: remote}
	return resp, nil
}

// callBody ends the call when the body is read to EOF, fails, or is closed.
type callBody struct {
	body   io.ReadCloser
	call   *clientCall
	status int
	remote bool
}

func (b *callBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err != nil {
		if errors.Is(err, io.EOF) {
			b.call.end(b.status, b.remote, nil)
		} else {
			b.call.end(b.status, b.remote, err)
		}
	}
	return n, err
}

func (b *callBody) Close() error {
	err := b.body.Close()
	b.call.end(b.status, b.remote, nil)
	return err
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
