package raceway

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vectorDir is the contract's vectors, read in place: no SDK keeps a copy (spec/vectors/README.md).
var vectorDir = filepath.Join("..", "..", "..", "spec", "vectors")

// vectorRunners runs one case of each vector file, by file name. A file in spec/vectors that
// is not listed here fails TestVectors: a new concern of the contract needs a runner here.
var vectorRunners = map[string]func(t *testing.T, c vectorCase){
	"extract":      runExtractCase,
	"clock-codec":  runClockCodecCase,
	"clock-ops":    runClockOpsCase,
	"inject":       runInjectCase,
	"events":       runEventsCase,
	"sampling":     runSamplingCase,
	"propagate-to": runPropagateToCase,
	"delivery":     runDeliveryCase,
	"config":       runConfigCase,
	"param-digest": runParamDigestCase,
}

// vectorsNotImplemented are concerns of the contract the Go SDK does not implement yet, with the
// reason; their files are skipped with it instead of failing TestVectors.
var vectorsNotImplemented = map[string]string{
	"sql-accesses": "the collector parses SQL; no SDK does",
}

type vectorFile struct {
	Name  string       `json:"name"`
	Cases []vectorCase `json:"cases"`
}

type vectorCase struct {
	ID       string          `json:"id"`
	Note     string          `json:"note"`
	Op       string          `json:"op"`
	Input    json.RawMessage `json:"input"`
	Expected json.RawMessage `json:"expected"`
}

func TestVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vector files in %s (err %v)", vectorDir, err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			if reason, ok := vectorsNotImplemented[name]; ok {
				t.Skip(reason)
			}
			run, ok := vectorRunners[name]
			if !ok {
				t.Fatalf("spec/vectors/%s.json has no runner in the Go SDK: add one to vectorRunners", name)
			}
			file := readVectorFile(t, path)
			if file.Name != name || len(file.Cases) == 0 {
				t.Fatalf("%s: name %q, %d cases", path, file.Name, len(file.Cases))
			}
			for _, c := range file.Cases {
				t.Run(c.ID, func(t *testing.T) { run(t, c) })
			}
		})
	}
}

func readVectorFile(t testing.TB, path string) vectorFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file vectorFile
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return file
}

// decodeInto decodes a case's JSON strictly into v.
func decodeInto(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
}

// assertSameJSON compares the whole expected object with what the SDK produced, by value
// (object key order is not significant; numbers compare by their decimal text).
func assertSameJSON(t *testing.T, c vectorCase, got any) {
	t.Helper()
	encoded, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var want, have any
	decodeInto(t, c.Expected, &want)
	decodeInto(t, encoded, &have)
	if !reflect.DeepEqual(want, have) {
		t.Errorf("%s (%s)\n got: %s\nwant: %s", c.ID, c.Note, encoded, c.Expected)
	}
}

// vectorHeaders builds a header map keeping every name as the vector spells it.
func vectorHeaders(t *testing.T, raw map[string]json.RawMessage) http.Header {
	h := http.Header{}
	for name, value := range raw {
		var one string
		if err := json.Unmarshal(value, &one); err == nil {
			h[name] = append(h[name], one)
			continue
		}
		var many []string
		if err := json.Unmarshal(value, &many); err != nil {
			t.Fatalf("header %s: %s", name, value)
		}
		h[name] = append(h[name], many...)
	}
	return h
}

func clockJSON(c vclock) map[string]uint64 {
	if c == nil {
		return nil
	}
	return map[string]uint64(c)
}

func runExtractCase(t *testing.T, c vectorCase) {
	var input struct {
		Headers map[string]json.RawMessage `json:"headers"`
	}
	decodeInto(t, c.Input, &input)
	in := extract(vectorHeaders(t, input.Headers))
	reasons := in.reasons
	if reasons == nil {
		reasons = []string{}
	}
	assertSameJSON(t, c, map[string]any{
		"traceId":      nullable(in.traceID),
		"parentSpanId": nullable(in.parentSpanID),
		"traceFlags":   nullable(in.traceFlags),
		"clock":        clockJSON(in.clock),
		"clockDropped": in.clockDropped,
		"tracestate":   nullable(in.tracestate),
		"status":       in.status,
		"reasons":      reasons,
	})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func runClockCodecCase(t *testing.T, c vectorCase) {
	switch c.Op {
	case "encode":
		var input struct {
			Entries vclock `json:"entries"`
			Own     string `json:"own"`
			Dropped uint64 `json:"dropped"`
		}
		decodeInto(t, c.Input, &input)
		assertSameJSON(t, c, map[string]string{
			"header": encodeClock(input.Entries, input.Own, input.Dropped).header(),
		})
	case "decode":
		var input struct {
			Header string `json:"header"`
		}
		decodeInto(t, c.Input, &input)
		d := decodeClock(input.Header)
		if d.reason != "" {
			assertSameJSON(t, c, map[string]any{"ok": false, "reason": d.reason})
			return
		}
		assertSameJSON(t, c, map[string]any{"ok": true, "entries": clockJSON(d.clock), "dropped": d.dropped})
	default:
		t.Fatalf("unknown op %q", c.Op)
	}
}

func runClockOpsCase(t *testing.T, c vectorCase) {
	var input struct {
		Clock     vclock `json:"clock"`
		Component string `json:"component"`
		A         vclock `json:"a"`
		B         vclock `json:"b"`
	}
	decodeInto(t, c.Input, &input)
	switch c.Op {
	case "increment":
		clock := input.Clock.clone()
		clock.increment(input.Component)
		assertSameJSON(t, c, map[string]any{"clock": clockJSON(clock)})
	case "merge":
		merged := input.A.clone()
		merged.merge(input.B)
		assertSameJSON(t, c, map[string]any{"clock": clockJSON(merged)})
	case "compare":
		assertSameJSON(t, c, map[string]any{"order": compare(input.A, input.B)})
	default:
		t.Fatalf("unknown op %q", c.Op)
	}
}

func runInjectCase(t *testing.T, c vectorCase) {
	var input struct {
		Context struct {
			TraceID      string  `json:"traceId"`
			SpanID       string  `json:"spanId"`
			TraceFlags   string  `json:"traceFlags"`
			Clock        vclock  `json:"clock"`
			Own          string  `json:"own"`
			ClockDropped uint64  `json:"clockDropped"`
			Tracestate   *string `json:"tracestate"`
		} `json:"context"`
		Carrier map[string]string `json:"carrier"`
	}
	decodeInto(t, c.Input, &input)
	h := http.Header{}
	for name, value := range input.Carrier {
		h[name] = []string{value}
	}
	ctx := input.Context
	o := outgoing{
		traceID: ctx.TraceID,
		spanID:  ctx.SpanID,
		flags:   ctx.TraceFlags,
		clock:   encodeClock(ctx.Clock, ctx.Own, ctx.ClockDropped),
	}
	if ctx.Tracestate != nil {
		o.tracestate = *ctx.Tracestate
	}
	inject(o, h)

	// Go's http.Header canonicalises names: compare them case-insensitively, one copy each.
	var expected struct {
		Headers map[string]string `json:"headers"`
	}
	decodeInto(t, c.Expected, &expected)
	want := map[string]string{}
	for name, value := range expected.Headers {
		want[strings.ToLower(name)] = value
	}
	got := map[string]string{}
	for name, values := range h {
		lower := strings.ToLower(name)
		if _, dup := got[lower]; dup || len(values) != 1 {
			t.Fatalf("%s: header %s present more than once: %v", c.ID, name, h)
		}
		got[lower] = values[0]
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s (%s)\n got: %v\nwant: %v", c.ID, c.Note, sortedPairs(got), sortedPairs(want))
	}
}

func sortedPairs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+": "+v)
	}
	sort.Strings(out)
	return out
}

func runSamplingCase(t *testing.T, c vectorCase) {
	var input struct {
		TraceID    string  `json:"traceId"`
		Rate       float64 `json:"rate"`
		Joined     bool    `json:"joined"`
		TraceFlags *string `json:"traceFlags"`
		Value      string  `json:"value"`
	}
	decodeInto(t, c.Input, &input)
	switch c.Op {
	case "threshold":
		assertSameJSON(t, c, map[string]string{"threshold": fmt.Sprintf("%014x", samplingThreshold(input.Rate))})
	case "root":
		assertSameJSON(t, c, map[string]bool{"sampled": sampledRoot(input.TraceID, input.Rate)})
	case "decide":
		received := ""
		if input.TraceFlags != nil {
			received = *input.TraceFlags
		}
		assertSameJSON(t, c, map[string]string{"traceFlags": decideFlags(input.TraceID, input.Rate, input.Joined, received)})
	case "parse":
		rate, set, ok := parseSampleRate(input.Value)
		switch {
		case !ok:
			assertSameJSON(t, c, map[string]bool{"ok": false})
		case !set:
			assertSameJSON(t, c, map[string]any{"ok": true, "rate": nil})
		default:
			assertSameJSON(t, c, map[string]any{"ok": true, "rate": rate})
		}
	default:
		t.Fatalf("unknown op %q", c.Op)
	}
}

func runPropagateToCase(t *testing.T, c vectorCase) {
	var input struct {
		URL         string  `json:"url"`
		PropagateTo *string `json:"propagateTo"`
	}
	decodeInto(t, c.Input, &input)
	env := ""
	if input.PropagateTo != nil {
		env = *input.PropagateTo
	}
	propagate, err := resolvePropagate(nil, nil, env)
	if err != nil {
		var cfgErr *ConfigError
		if !errors.As(err, &cfgErr) || cfgErr.Code != "RACEWAY_INVALID_PROPAGATE_TO" {
			t.Fatalf("unexpected error %v", err)
		}
		assertSameJSON(t, c, map[string]bool{"configError": true})
		return
	}
	u, err := url.Parse(input.URL)
	if err != nil {
		t.Fatalf("url %q: %v", input.URL, err)
	}
	assertSameJSON(t, c, map[string]bool{"propagate": propagate(u)})
}

func runDeliveryCase(t *testing.T, c vectorCase) {
	var input struct {
		Status     *int    `json:"status"`
		Value      *string `json:"value"`
		RetryAfter *string `json:"retry_after"`
		NowMs      int64   `json:"now_ms"`
		Attempt    int     `json:"attempt"`
		Random     float64 `json:"random"`
	}
	decodeInto(t, c.Input, &input)
	now := time.UnixMilli(input.NowMs)
	// header is the answer's headers, with Retry-After when the vector gives one.
	header := func(value *string) http.Header {
		h := http.Header{}
		if value != nil {
			h.Set("Retry-After", *value)
		}
		return h
	}
	switch c.Op {
	case "classify":
		var outcome sendOutcome
		if input.Status == nil {
			outcome = classifyAnswer(0, errors.New("connection refused"))
		} else {
			outcome = classifyAnswer(*input.Status, nil)
		}
		assertSameJSON(t, c, map[string]string{"outcome": outcome.String()})
	case "retry_after":
		delay, ok := parseRetryAfter(header(input.Value), now)
		if !ok {
			assertSameJSON(t, c, map[string]any{"delay_ms": nil})
			return
		}
		assertSameJSON(t, c, map[string]int64{"delay_ms": delay.Milliseconds()})
	case "backoff":
		delay := defaultBackoff.jitter(input.Attempt, input.Random)
		assertSameJSON(t, c, map[string]int64{"delay_ms": delay.Milliseconds()})
	case "retry_delay":
		retryAfter, _ := parseRetryAfter(header(input.RetryAfter), now)
		delay := defaultBackoff.delay(input.Attempt, input.Random, retryAfter)
		assertSameJSON(t, c, map[string]int64{"delay_ms": delay.Milliseconds()})
	default:
		t.Fatalf("unknown op %q", c.Op)
	}
}

// configOptions maps the options of config.json (spec 7's names) to the Go options; each
// decodes the vector's value into the option's own type.
var configOptions = map[string]func(t *testing.T, raw json.RawMessage) Option{
	"service_name": func(t *testing.T, raw json.RawMessage) Option { return WithServiceName(vectorValue[string](t, raw)) },
	"environment":  func(t *testing.T, raw json.RawMessage) Option { return WithEnvironment(vectorValue[string](t, raw)) },
	"version":      func(t *testing.T, raw json.RawMessage) Option { return WithVersion(vectorValue[string](t, raw)) },
	"server_url":   func(t *testing.T, raw json.RawMessage) Option { return WithServerURL(vectorValue[string](t, raw)) },
	"api_key":      func(t *testing.T, raw json.RawMessage) Option { return WithAPIKey(vectorValue[string](t, raw)) },
	"disabled":     func(t *testing.T, raw json.RawMessage) Option { return WithDisabled(vectorValue[bool](t, raw)) },
	"debug":        func(t *testing.T, raw json.RawMessage) Option { return WithDebug(vectorValue[bool](t, raw)) },
	"instance":     func(t *testing.T, raw json.RawMessage) Option { return WithInstance(vectorValue[string](t, raw)) },
	"sample_rate":  func(t *testing.T, raw json.RawMessage) Option { return WithSampleRate(vectorValue[float64](t, raw)) },
	"batch_size":   func(t *testing.T, raw json.RawMessage) Option { return WithBatchSize(vectorInt(t, raw)) },
	"flush_interval_ms": func(t *testing.T, raw json.RawMessage) Option {
		return WithFlushInterval(time.Duration(vectorValue[int64](t, raw)) * time.Millisecond)
	},
	"max_queue_size":  func(t *testing.T, raw json.RawMessage) Option { return WithMaxQueueSize(vectorInt(t, raw)) },
	"max_queue_bytes": func(t *testing.T, raw json.RawMessage) Option { return WithMaxQueueBytes(vectorInt(t, raw)) },
	"max_retries":     func(t *testing.T, raw json.RawMessage) Option { return WithMaxRetries(vectorInt(t, raw)) },
	"request_timeout_ms": func(t *testing.T, raw json.RawMessage) Option {
		return WithRequestTimeout(time.Duration(vectorValue[int64](t, raw)) * time.Millisecond)
	},
}

// vectorValue decodes one option's value strictly into its Go type.
func vectorValue[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("option value %s: %v", raw, err)
	}
	return v
}

// vectorInt is an integer option; a value beyond this platform's int cannot be passed at all.
func vectorInt(t *testing.T, raw json.RawMessage) int {
	t.Helper()
	v := vectorValue[int64](t, raw)
	if int64(int(v)) != v {
		t.Skipf("%d does not fit in an int on this platform", v)
	}
	return int(v)
}

// runConfigCase resolves the case's options against its environment, passed explicitly (the
// real environment is never read, so the cases can run in parallel), and compares every
// resolved setting, or the error code.
func runConfigCase(t *testing.T, c vectorCase) {
	t.Parallel()
	var input struct {
		Options map[string]json.RawMessage `json:"options"`
		Env     map[string]string          `json:"env"`
	}
	decodeInto(t, c.Input, &input)
	opts := []Option{
		withGetenv(func(name string) string { return input.Env[name] }),
		withEnviron(func() []string { return slices.Collect(maps.Keys(input.Env)) }),
	}
	names := make([]string, 0, len(input.Options))
	for name := range input.Options {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		option, ok := configOptions[name]
		if !ok {
			t.Fatalf("option %q has no Go spelling in configOptions", name)
		}
		opts = append(opts, option(t, input.Options[name]))
	}
	cfg, err := resolveConfig(opts)
	if err != nil {
		var cfgErr *ConfigError
		if !errors.As(err, &cfgErr) {
			t.Fatalf("not a *ConfigError: %v", err)
		}
		assertSameJSON(t, c, map[string]string{"error": cfgErr.Code})
		return
	}
	var apiKey, instance, maxRetries, environment, version any
	if cfg.environment != "" {
		environment = cfg.environment
	}
	if cfg.version != "" {
		version = cfg.version
	}
	if cfg.apiKey != "" {
		apiKey = cfg.apiKey
	}
	if cfg.instance != defaultInstance() {
		instance = cfg.instance
	}
	if cfg.maxRetries != unlimitedRetries {
		maxRetries = cfg.maxRetries
	}
	result := map[string]any{"settings": map[string]any{
		"service_name":       cfg.serviceName,
		"environment":        environment,
		"version":            version,
		"server_url":         cfg.serverURL,
		"endpoint":           cfg.endpoint,
		"api_key":            apiKey,
		"disabled":           cfg.disabled,
		"debug":              cfg.debug,
		"instance":           instance,
		"sample_rate":        cfg.sampleRate,
		"batch_size":         cfg.batchSize,
		"flush_interval_ms":  cfg.flushInterval.Milliseconds(),
		"max_queue_size":     cfg.maxQueueSize,
		"max_queue_bytes":    cfg.maxQueueBytes,
		"max_retries":        maxRetries,
		"request_timeout_ms": cfg.requestTimeout.Milliseconds(),
	}}
	// The misspelt variables New warns about (warnMisspelt logs exactly these).
	if len(cfg.misspelt) > 0 {
		warnings := []map[string]string{}
		for _, m := range cfg.misspelt {
			warnings = append(warnings, map[string]string{"variable": m.variable, "suggestion": m.meant})
		}
		result["warnings"] = warnings
	}
	assertSameJSON(t, c, result)
}

// runParamDigestCase checks the canonical form and the digest of a parameter given as the Go
// value a driver would be handed: JSON integers as int64 (uint64 beyond), fractions as float64,
// floats given as text as float64, bytes as []byte, arrays and objects as []any and map[string]any.
func runParamDigestCase(t *testing.T, c vectorCase) {
	t.Parallel()
	var input struct {
		Value json.RawMessage `json:"value"`
		Int   *string         `json:"int"`
		Float *string         `json:"float"`
		Bytes *string         `json:"bytes"`
		Key   *string         `json:"key"`
	}
	decodeInto(t, c.Input, &input)
	var value any
	switch {
	case input.Int != nil:
		if n, err := strconv.ParseInt(*input.Int, 10, 64); err == nil {
			value = n
		} else if u, err := strconv.ParseUint(*input.Int, 10, 64); err == nil {
			value = u
		} else {
			t.Fatalf("int %q", *input.Int)
		}
	case input.Float != nil:
		f, err := strconv.ParseFloat(*input.Float, 64)
		if err != nil {
			t.Fatalf("float %q: %v", *input.Float, err)
		}
		value = f
	case input.Bytes != nil:
		b, err := hex.DecodeString(*input.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		value = b
	default:
		var v any
		decodeInto(t, input.Value, &v)
		value = goValue(v)
	}
	key := DefaultDigestKey
	if input.Key != nil {
		key = *input.Key
	}
	assertSameJSON(t, c, map[string]string{"canonical": CanonicalParam(value), "digest": ParamDigest(value, key)})
}

// goValue turns the json.Numbers of a decoded vector value into int64 or float64.
func goValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = goValue(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = goValue(x[k])
		}
	}
	return v
}
