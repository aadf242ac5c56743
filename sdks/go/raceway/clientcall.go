package raceway

import (
	"net/url"
	"strings"
	"sync"
	"time"
)

// clientCall is one outgoing call: a span of its own, child of the context's span, whose id is
// the one sent in traceparent (spec 4). request_sent is recorded when it starts;
// response_received once, when it ends.
type clientCall struct {
	x       *execContext
	spanID  string
	clock   encodedClock // after the request_sent step: the clock sent
	method  string
	url     string
	host    string
	started time.Time

	once     sync.Once
	bodyOnce sync.Once
}

// unknownTarget stands for the target of a call made by hand (GetTraceHeaders), whose URL the
// SDK does not see.
const unknownTarget = "unknown"

// startCall records request_sent (the call's clock step, spec 2.5) and returns the call.
// withheld says that the call goes out without trace headers (the host is outside the
// allow-list): the event says so (spec 6.3).
func (x *execContext) startCall(method string, u *url.URL, withheld bool) *clientCall {
	call := &clientCall{x: x, spanID: newSpanID(), method: eventMethod(method), started: time.Now()}
	call.url, call.host = eventTarget(u)
	if !x.sampled {
		return call // no clock step, no event; the headers still go out (spec 5.4)
	}
	call.clock = x.tick()
	x.record(kindRequestSent, requestSentData{Method: call.method, URL: call.url, Host: call.host, HeadersWithheld: withheld},
		&recordOptions{spanID: call.spanID, parentSpanID: x.spanID, clock: &call.clock})
	return call
}

// outgoing is what the call injects.
func (c *clientCall) outgoing() outgoing {
	return outgoing{
		traceID:    c.x.traceID,
		spanID:     c.spanID,
		clock:      c.clock,
		flags:      c.x.flags,
		tracestate: c.x.tracestate,
	}
}

// traceparent is the header value the call sent, which identifies it.
func (c *clientCall) traceparent() string {
	return formatTraceparent(c.x.traceID, c.spanID, c.x.flags)
}

// end records response_received, once: with the status when there was a response, the error
// when the call failed, and whether the callee's clock was merged.
func (c *clientCall) end(status int, remoteClock bool, err error) {
	c.once.Do(func() {
		data := responseReceivedData{
			Method:      c.method,
			URL:         c.url,
			Host:        c.host,
			Status:      eventStatus(status),
			DurationMs:  durationMs(time.Since(c.started)),
			RemoteClock: remoteClock,
		}
		if err != nil {
			data.Error = errorInfo(err, "")
		}
		c.x.record(kindResponseReceived, data, &recordOptions{spanID: c.spanID, parentSpanID: c.x.spanID})
	})
}

// bodyFailed records, once, the error of a response body that broke off after the call ended
// (spec 4, note b): an error event in the call's span.
func (c *clientCall) bodyFailed(err error) {
	c.bodyOnce.Do(func() {
		c.x.record(kindError, *errorInfo(err, ""), &recordOptions{spanID: c.spanID, parentSpanID: c.x.spanID})
	})
}

// eventMethod is a method as the schema takes it (`[A-Z][A-Z0-9_-]{0,31}`): upper-cased,
// or OTHER.
func eventMethod(m string) string {
	if m == "" {
		return "GET"
	}
	if isEventMethod(m) {
		return m
	}
	if upper := strings.ToUpper(m); isEventMethod(upper) {
		return upper
	}
	return "OTHER"
}

func isEventMethod(m string) bool {
	if len(m) == 0 || len(m) > 32 || m[0] < 'A' || m[0] > 'Z' {
		return false
	}
	for i := 1; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// eventStatus is a status the schema takes (100..599), or 0 (left out).
func eventStatus(status int) int {
	if status >= 100 && status <= 599 {
		return status
	}
	return 0
}

// eventTarget is a call's target as recorded: the URL without credentials, query or fragment
// (they may carry secrets), and its host[:port].
func eventTarget(u *url.URL) (target, host string) {
	if u == nil || u.Host == "" {
		return unknownTarget, unknownTarget
	}
	clean := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return cutString(clean.String(), maxURL), cutString(u.Host, maxHost)
}
