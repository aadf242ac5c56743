package raceway

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event kinds of spec 4.
const (
	kindRequestReceived  = "request_received"
	kindResponseSent     = "response_sent"
	kindRequestSent      = "request_sent"
	kindResponseReceived = "response_received"
	kindStateRead        = "state_read"
	kindStateWrite       = "state_write"
	kindLockAcquire      = "lock_acquire"
	kindLockRelease      = "lock_release"
	kindError            = "error"
	kindFork             = "fork"
	kindJoin             = "join"
	kindCustom           = "custom"
)

// Bounds of event.schema.json that wire-derived values are cut to, so that an odd request
// never becomes an event the collector rejects.
const (
	maxPath          = 2048
	maxRoute         = 512
	maxURL           = 2048
	maxHost          = 512
	maxResource      = 512
	maxVersion       = 512
	maxCustomName    = 256
	maxErrorType     = 256
	maxErrorMessage  = 4096
	maxErrorStack    = 16384
	maxValueBytes    = 1024
	truncationMark   = "…"
	clientClosed     = 499 // nginx's "client closed request": no status line was sent
	defaultErrStatus = 500
)

// event is one recorded event (spec 4, schemas/event.schema.json). The clock snapshot is kept
// as its canonical JSON text, made under the context's lock when the event was recorded.
type event struct {
	ID           string
	TraceID      string
	SpanID       string
	ParentSpanID string // "" is null
	Service      string
	Instance     string
	Component    string
	TsUs         int64
	Kind         string
	Clock        encodedClock
	Data         any
}

// MarshalJSON writes the wire form of the event.
func (e *event) MarshalJSON() ([]byte, error) {
	return e.appendJSON(make([]byte, 0, 512+len(e.Clock.json)))
}

// appendJSON appends the wire form of the event to b.
func (e *event) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":"`...)
	b = append(b, e.ID...)
	b = append(b, `","trace_id":"`...)
	b = append(b, e.TraceID...)
	b = append(b, `","span_id":"`...)
	b = append(b, e.SpanID...)
	if e.ParentSpanID == "" {
		b = append(b, `","parent_span_id":null,"service":`...)
	} else {
		b = append(b, `","parent_span_id":"`...)
		b = append(b, e.ParentSpanID...)
		b = append(b, `","service":`...)
	}
	b = appendJSONString(b, e.Service)
	b = append(b, `,"instance":`...)
	b = appendJSONString(b, e.Instance)
	b = append(b, `,"component":"`...)
	b = append(b, e.Component...)
	b = append(b, `","ts_us":`...)
	b = strconv.AppendInt(b, e.TsUs, 10)
	b = append(b, `,"kind":"`...)
	b = append(b, e.Kind...)
	b = append(b, `","clock":`...)
	b = append(b, e.Clock.json...)
	if e.Clock.dropped > 0 {
		b = append(b, `,"clock_dropped":`...)
		b = strconv.AppendUint(b, e.Clock.dropped, 10)
	}
	b = append(b, `,"data":`...)
	b, err := appendData(b, e.Data)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// estimatedSize approximates the event's encoded size, what the queue's byte bound counts:
// the fixed fields, the clock, and the variable parts of the data, without encoding anything.
func (e *event) estimatedSize() int {
	size := 320 + len(e.Service) + len(e.Instance) + len(e.Clock.json)
	switch d := e.Data.(type) {
	case requestReceivedData:
		size += len(d.Path) + len(maxOf(d.Route)) + 40*len(d.Incoming.Reasons)
	case responseSentData:
		size += len(maxOf(d.Route)) + errorSize(d.Error)
	case requestSentData:
		size += len(d.URL) + len(d.Host)
	case responseReceivedData:
		size += len(d.URL) + len(d.Host) + errorSize(d.Error)
	case stateData:
		size += len(d.Resource) + len(d.Value) + 32
	case lockData:
		size += len(d.Lock)
	case errorData:
		size += errorSize(&d)
	case dbQueryData:
		size += len(d.Statement) + len(d.Connection) + len(d.Database) + 48*len(d.Params)
		for _, row := range d.Returned {
			for _, c := range row {
				size += len(c.name) + 24
			}
		}
		for _, p := range d.Params {
			size += len(p.Name) + len(p.Value)
		}
		if d.Error != nil {
			size += len(d.Error.Type) + len(d.Error.Message)
		}
	case customData:
		size += len(d.Name)
		for k, v := range d.Attributes {
			if raw, ok := v.(json.RawMessage); ok {
				size += len(k) + len(raw) + 4
			}
		}
	}
	return size
}

func maxOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func errorSize(e *errorData) int {
	if e == nil {
		return 0
	}
	return len(e.Type) + len(e.Message) + len(e.Stack) + 40
}

// appendJSONString appends s as a JSON string. Names, paths and routes are nearly always
// plain ASCII, which needs no escaping; anything else goes through encoding/json, whose
// escaping (HTML characters and invalid UTF-8 included) stays the reference.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always marshals
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendDuration writes a duration in ms with up to 3 decimals, as JSON numbers go.
func appendDuration(b []byte, ms float64) []byte {
	return strconv.AppendFloat(b, ms, 'f', -1, 64)
}

// The HTTP kinds are most of the events: they write their own JSON instead of going through
// reflection. The field names and shapes are those of the struct tags below, which the other
// kinds use; TestEventKindsEncodeLikeEncodingJSON holds the two paths equal.

func (d requestReceivedData) appendJSON(b []byte) []byte {
	b = append(b, `{"method":`...)
	b = appendJSONString(b, d.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, d.Path)
	if d.Route != nil {
		b = append(b, `,"route":`...)
		b = appendJSONString(b, *d.Route)
	}
	b = append(b, `,"incoming":{"status":`...)
	b = appendJSONString(b, d.Incoming.Status)
	b = append(b, `,"reasons":[`...)
	for i, r := range d.Incoming.Reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, r)
	}
	return append(b, "]}}"...)
}

func (d responseSentData) appendJSON(b []byte) []byte {
	b = append(b, `{"method":`...)
	b = appendJSONString(b, d.Method)
	if d.Route != nil {
		b = append(b, `,"route":`...)
		b = appendJSONString(b, *d.Route)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(d.Status), 10)
	b = append(b, `,"duration_ms":`...)
	b = appendDuration(b, d.DurationMs)
	b = appendError(b, d.Error)
	return append(b, '}')
}

func (d requestSentData) appendJSON(b []byte) []byte {
	b = append(b, `{"method":`...)
	b = appendJSONString(b, d.Method)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, d.URL)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, d.Host)
	if d.HeadersWithheld {
		b = append(b, `,"headers_withheld":true`...)
	}
	return append(b, '}')
}

func (d responseReceivedData) appendJSON(b []byte) []byte {
	b = append(b, `{"method":`...)
	b = appendJSONString(b, d.Method)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, d.URL)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, d.Host)
	if d.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(d.Status), 10)
	}
	b = append(b, `,"duration_ms":`...)
	b = appendDuration(b, d.DurationMs)
	b = appendError(b, d.Error)
	b = append(b, `,"remote_clock":`...)
	b = strconv.AppendBool(b, d.RemoteClock)
	return append(b, '}')
}

func appendError(b []byte, e *errorData) []byte {
	if e == nil {
		return b
	}
	b = append(b, `,"error":{"type":`...)
	b = appendJSONString(b, e.Type)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.Message)
	if e.Stack != "" {
		b = append(b, `,"stack":`...)
		b = appendJSONString(b, e.Stack)
	}
	return append(b, '}')
}

// appendData writes the event's data: the HTTP kinds by hand, the others with encoding/json.
func appendData(b []byte, data any) ([]byte, error) {
	switch d := data.(type) {
	case requestReceivedData:
		return d.appendJSON(b), nil
	case responseSentData:
		return d.appendJSON(b), nil
	case requestSentData:
		return d.appendJSON(b), nil
	case responseReceivedData:
		return d.appendJSON(b), nil
	case dbQueryData:
		return d.appendJSON(b), nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

func nowMicros() int64 { return time.Now().UnixMicro() }

// durationMs is a duration in milliseconds to the microsecond, as the other SDKs send it.
func durationMs(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d.Microseconds()) / 1000
}

// Kind-specific data (spec 4).

type incomingData struct {
	Status  string   `json:"status"`
	Reasons []string `json:"reasons"`
}

type requestReceivedData struct {
	Method   string       `json:"method"`
	Path     string       `json:"path"`
	Route    *string      `json:"route,omitempty"`
	Incoming incomingData `json:"incoming"`
}

type responseSentData struct {
	Method     string     `json:"method"`
	Route      *string    `json:"route,omitempty"`
	Status     int        `json:"status"`
	DurationMs float64    `json:"duration_ms"`
	Error      *errorData `json:"error,omitempty"`
}

type requestSentData struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Host   string `json:"host"`
	// HeadersWithheld: the host is outside the propagate-to allow-list, so the call went out
	// without trace headers (spec 6.3).
	HeadersWithheld bool `json:"headers_withheld,omitempty"`
}

type responseReceivedData struct {
	Method      string     `json:"method"`
	URL         string     `json:"url"`
	Host        string     `json:"host"`
	Status      int        `json:"status,omitempty"`
	DurationMs  float64    `json:"duration_ms"`
	Error       *errorData `json:"error,omitempty"`
	RemoteClock bool       `json:"remote_clock"`
}

type stateData struct {
	Resource string          `json:"resource"`
	Value    json.RawMessage `json:"value,omitempty"`
	Version  any             `json:"version,omitempty"`
	Atomic   *bool           `json:"atomic,omitempty"`
}

type lockData struct {
	Lock string `json:"lock"`
}

type errorData struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Stack   string `json:"stack,omitempty"`
}

type branchData struct {
	Child string `json:"child"`
}

type customData struct {
	Name       string         `json:"name"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// errorInfo describes an error for an event: its dynamic type, its message, and the stack
// when the caller has one (a panic's).
func errorInfo(err error, stack string) *errorData {
	if err == nil {
		return &errorData{Type: "error", Message: "nil error"}
	}
	typ := reflect.TypeOf(err).String()
	var unwrapped interface{ Unwrap() error }
	if errors.As(err, &unwrapped) && typ == "*fmt.wrapError" {
		// fmt.Errorf's wrapper says nothing; the wrapped error's type is the useful one.
		typ = reflect.TypeOf(unwrapped.Unwrap()).String()
	}
	return &errorData{
		Type:    cutString(typ, maxErrorType),
		Message: cutString(safeErrorText(err), maxErrorMessage),
		Stack:   cutString(stack, maxErrorStack),
	}
}

// panicInfo describes a recovered panic value.
func panicInfo(v any, stack []byte) *errorData {
	if err, ok := v.(error); ok {
		return errorInfo(err, string(stack))
	}
	return &errorData{
		Type:    "panic",
		Message: cutString(fmt.Sprint(v), maxErrorMessage),
		Stack:   cutString(string(stack), maxErrorStack),
	}
}

func safeErrorText(err error) (text string) {
	defer func() {
		if recover() != nil {
			text = "an error whose Error method panicked"
		}
	}()
	return err.Error()
}

// cutString cuts s to at most max bytes at a UTF-8 boundary. The schema counts characters;
// a byte bound is never longer.
func cutString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	end := max
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end]
}

// eventValue is a value as an event carries it (state_read/state_write): its JSON, cut to
// 1 KiB of text as a JSON string ending in "…" when larger; a value that cannot be marshalled
// is recorded as its fmt text.
func eventValue(v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		raw, _ = json.Marshal(fmt.Sprint(v))
	}
	if len(raw) <= maxValueBytes {
		return raw
	}
	cut, _ := json.Marshal(cutString(string(raw), maxValueBytes-len(truncationMark)) + truncationMark)
	return cut
}

// eventVersion keeps a version as the schema takes it: a string or an integer.
func eventVersion(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return cutString(x, maxVersion)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x
	default:
		return cutString(fmt.Sprint(x), maxVersion)
	}
}
