package raceway

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultServerURL is the collector a client talks to when neither WithServerURL nor
// RACEWAY_URL is set.
const DefaultServerURL = "http://127.0.0.1:8080"

// Defaults of the transport options; the same as every other Raceway SDK.
const (
	DefaultBatchSize      = 200
	DefaultFlushInterval  = time.Second
	DefaultMaxQueueSize   = 100_000
	DefaultMaxQueueBytes  = 64 << 20
	DefaultRequestTimeout = 10 * time.Second
	// DefaultShutdownTimeout bounds a Shutdown whose context has no deadline.
	DefaultShutdownTimeout = 5 * time.Second
)

// unlimitedRetries: by default a batch is retried until the collector takes it, while the
// queue has room, so that an outage loses nothing the queue can hold.
const unlimitedRetries = -1

// disabledServiceName names a disabled client that was given none; it never reaches the wire.
const disabledServiceName = "unknown_service"

const maxNameLength = 128 // event.schema.json: service and instance

// Bounds of spec 7 that the Go types do not give already.
const (
	// maxTimerMs bounds flush_interval_ms and request_timeout_ms (the largest timer of every
	// language's runtime).
	maxTimerMs = 2_147_483_647
	// maxQueueBytesLimit is max_queue_bytes' upper bound, 4 GiB.
	maxQueueBytesLimit int64 = 1 << 32
)

// DefaultIgnorePaths are the server paths not traced unless WithIgnorePaths says otherwise.
var DefaultIgnorePaths = []string{"/healthz", "/health", "/favicon.ico"}

// ConfigError is what New returns for an option or environment variable it refuses. Code is
// stable (the same codes as the TypeScript SDK) so that a program can test it.
type ConfigError struct {
	Code    string
	Message string
}

func (e *ConfigError) Error() string { return "raceway: " + e.Code + ": " + e.Message }

func configErr(code, format string, args ...any) error {
	return &ConfigError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// An Option configures New. Every option can be left out: the environment fills in what the
// code leaves out, and an option given in code always wins over the environment.
type Option func(*options)

type options struct {
	serviceName, serverURL, apiKey, instance *string
	environment, version                     *string
	disabled, debug                          *bool
	sampleRate                               *float64
	batchSize, maxQueueSize, maxRetries      *int
	maxQueueBytes                            *int
	flushInterval, requestTimeout            *time.Duration
	propagateTo                              []string
	propagateFunc                            func(*url.URL) bool
	ignorePaths                              *[]string
	routeFunc                                func(*http.Request) string
	logger                                   *slog.Logger
	httpClient                               *http.Client
	getenv                                   func(string) string
	environ                                  func() []string
	backoff                                  *backoff
	maxInFlight                              int
	captureQueries, captureValues            *bool
	digestKey                                *string
}

// WithServiceName names the service (1-128 characters). Env RACEWAY_SERVICE_NAME, else
// OTEL_SERVICE_NAME. Required unless the client is disabled.
func WithServiceName(name string) Option { return func(o *options) { o.serviceName = &name } }

// WithEnvironment names where the service runs ("production", "staging"). Env
// RACEWAY_ENVIRONMENT, else deployment.environment.name (or deployment.environment) in
// OTEL_RESOURCE_ATTRIBUTES. Default none.
func WithEnvironment(environment string) Option {
	return func(o *options) { o.environment = &environment }
}

// WithVersion names the service's version. Env RACEWAY_VERSION, else service.version in
// OTEL_RESOURCE_ATTRIBUTES. Default none.
func WithVersion(version string) Option { return func(o *options) { o.version = &version } }

// WithServerURL sets the collector's base URL (`/v1/events` is appended). Env RACEWAY_URL.
// Default DefaultServerURL.
func WithServerURL(u string) Option { return func(o *options) { o.serverURL = &u } }

// WithAPIKey is sent as `Authorization: Bearer <key>`. Env RACEWAY_API_KEY.
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = &key } }

// WithDisabled turns everything off: no context, no events, no headers. Env RACEWAY_DISABLED
// (1, true, yes, on / 0, false, no, off), else OpenTelemetry's OTEL_SDK_DISABLED (true only
// for "true" in any case; any other value is false, never an error).
func WithDisabled(disabled bool) Option { return func(o *options) { o.disabled = &disabled } }

// WithDebug logs the transport's problems (dropped events, failed batches) to stderr, or to the
// WithLogger logger. Env RACEWAY_DEBUG (same words as RACEWAY_DISABLED).
func WithDebug(debug bool) Option { return func(o *options) { o.debug = &debug } }

// WithLogger sends the debug log to l instead of stderr; it implies WithDebug(true) unless
// WithDebug(false) is given.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithSampleRate sets the share of new traces that are recorded, from 0 to 1 (default 1). Env
// RACEWAY_SAMPLE_RATE. The decision is made once, by the service that starts the trace, and
// followed downstream. A race within a sampled trace is always seen; a race across traces
// needs both traces sampled, so a rate r finds about r*r of cross-trace races.
func WithSampleRate(rate float64) Option { return func(o *options) { o.sampleRate = &rate } }

// WithInstance names this process of the service. Env RACEWAY_INSTANCE. Default
// `<hostname>:<pid>`.
func WithInstance(instance string) Option { return func(o *options) { o.instance = &instance } }

// WithBatchSize sets the events per request to the collector (1-5000). Default 200.
func WithBatchSize(n int) Option { return func(o *options) { o.batchSize = &n } }

// WithFlushInterval sets the longest time an event waits before its batch is sent (1 ms to
// 2,147,483,647 ms, about 24.8 days). Default 1s.
func WithFlushInterval(d time.Duration) Option { return func(o *options) { o.flushInterval = &d } }

// WithMaxQueueSize bounds the events held in memory, in flight included (1-10,000,000);
// beyond it new events are dropped and counted. Default 100,000.
func WithMaxQueueSize(n int) Option { return func(o *options) { o.maxQueueSize = &n } }

// WithMaxQueueBytes bounds the memory the held events take, in bytes of their encoded size
// (estimated as they are queued), in flight included (1 KiB to 4 GiB). Default 64 MiB.
func WithMaxQueueBytes(n int) Option { return func(o *options) { o.maxQueueBytes = &n } }

// WithMaxRetries limits the retries of a batch after a network error, 408, 429 or 5xx (0-100),
// after which it is dropped and counted. Default: no limit, a batch is retried (backoff with
// jitter, at most 5s apart) until the collector takes it, while the queue has room. Either way,
// a batch with 5 strikes is dropped (spec 4.2): a strike is a retry answer received when the
// collector took another batch since the batch's previous answer, so an outage gives none.
func WithMaxRetries(n int) Option { return func(o *options) { o.maxRetries = &n } }

// WithRequestTimeout bounds one request to the collector (1 ms to 2,147,483,647 ms). Default
// 10s.
func WithRequestTimeout(d time.Duration) Option { return func(o *options) { o.requestTimeout = &d } }

// WithPropagateTo sets the hosts whose outgoing calls receive trace headers, replacing the
// default (spec 6.1, DefaultPropagateTo). Entries (spec 6.2): `*` (every host), `*.suffix`
// (subdomains only), a CIDR range (`10.0.0.0/8`, `2001:db8::/32`), an address, a hostname, or
// either of the last two with a port (`api.partner.example:8443`, `[2001:db8::1]:8080`). Env
// RACEWAY_PROPAGATE_TO, comma-separated. Client calls are recorded either way; manual calls
// (GetTraceHeaders) are not subject to it.
func WithPropagateTo(patterns ...string) Option {
	return func(o *options) { o.propagateTo = append([]string{}, patterns...) }
}

// WithPropagateFunc decides per URL which outgoing calls receive trace headers; it wins over
// WithPropagateTo. DefaultPropagateTo can be called from it to extend the default.
func WithPropagateFunc(f func(*url.URL) bool) Option {
	return func(o *options) { o.propagateFunc = f }
}

// WithIgnorePaths sets the server paths that are not traced: exact paths or whole-segment
// prefixes (`/health` ignores `/health/live`, not `/healthcheck`). Default DefaultIgnorePaths.
func WithIgnorePaths(paths ...string) Option {
	return func(o *options) { p := append([]string{}, paths...); o.ignorePaths = &p }
}

// WithRouteFunc tells the middleware a request's route template for routers other than
// net/http's ServeMux (whose patterns are read from Request.Pattern). It is called after the
// handler returned; an empty answer falls back to Request.Pattern. With chi:
//
//	raceway.WithRouteFunc(func(r *http.Request) string {
//		return chi.RouteContext(r.Context()).RoutePattern()
//	})
func WithRouteFunc(f func(*http.Request) string) Option {
	return func(o *options) { o.routeFunc = f }
}

// WithHTTPClient sets the client that sends events to the collector (for proxies or TLS
// settings). Its Transport must not be one made by Client.Transport: Raceway never traces its
// own calls. Its Timeout is left alone; WithRequestTimeout bounds each request.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithCaptureQueries turns the recording of database queries (spec 4.3) on or off; it is on
// by default and applies to the connections opened with the racewaysql package. Env
// RACEWAY_DB_CAPTURE (same words as RACEWAY_DISABLED).
func WithCaptureQueries(on bool) Option { return func(o *options) { o.captureQueries = &on } }

// WithCaptureValues sends the raw value of each query parameter beside its digest. Off by
// default: no parameter value leaves the service. Env RACEWAY_DB_CAPTURE_VALUES.
func WithCaptureValues(on bool) Option { return func(o *options) { o.captureValues = &on } }

// WithDigestKey sets the key of parameter digests (spec 4.3); services whose queries should be
// compared share it. Env RACEWAY_DIGEST_KEY. Default DefaultDigestKey.
func WithDigestKey(key string) Option { return func(o *options) { o.digestKey = &key } }

// withGetenv replaces os.Getenv, for tests.
func withGetenv(f func(string) string) Option { return func(o *options) { o.getenv = f } }

// withBackoff replaces the retry delays' base and cap (spec 4.2: 250 ms and 5 s), for tests.
func withBackoff(base, cap time.Duration) Option {
	return func(o *options) { o.backoff = &backoff{base: base, cap: cap} }
}

// withMaxInFlight replaces the number of batches sent at once (maxBatchesInFlight), for tests:
// with 1, every answer is acted on before the next request is sent.
func withMaxInFlight(n int) Option { return func(o *options) { o.maxInFlight = n } }

// config is the validated configuration with every default applied.
type config struct {
	serviceName    string
	environment    string // "" when none
	version        string // "" when none
	serverURL      string // without a trailing slash
	endpoint       string // serverURL + "/v1/events"
	apiKey         string // "" when none
	disabled       bool
	debug          bool // the debug log is on: logger is not nil
	instance       string
	sampleRate     float64
	batchSize      int
	flushInterval  time.Duration
	maxQueueSize   int
	maxQueueBytes  int
	maxRetries     int // unlimitedRetries or 0-100
	requestTimeout time.Duration
	backoff        backoff // the retry delays: defaultBackoff but in tests
	maxInFlight    int     // batches sent at once: maxBatchesInFlight but in tests
	propagate      func(*url.URL) bool
	ignorePath     func(string) bool
	routeFunc      func(*http.Request) string
	logger         *slog.Logger // nil: no debug log
	misspelt       []misspeltVariable
	httpClient     *http.Client
	captureQueries bool   // db_query events are recorded
	captureValues  bool   // with the parameters' raw values
	digestKey      string // never logged
}

func resolveConfig(opts []Option) (config, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	getenv := o.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var cfg config
	var err error
	cfg.misspelt = misspeltVariables(environNames(o.environ))
	if cfg.disabled, err = resolveDisabled(o.disabled, getenv("RACEWAY_DISABLED"), getenv("OTEL_SDK_DISABLED")); err != nil {
		return cfg, err
	}
	if cfg.serviceName, err = resolveServiceName(o.serviceName, getenv("RACEWAY_SERVICE_NAME"), getenv("OTEL_SERVICE_NAME"), cfg.disabled); err != nil {
		return cfg, err
	}
	otelResource, _ := otelResourceAttributes(getenv("OTEL_RESOURCE_ATTRIBUTES"))
	if cfg.environment, err = resolveResourceName(o.environment, "environment", getenv("RACEWAY_ENVIRONMENT"), "RACEWAY_ENVIRONMENT", otelEnvironment(otelResource), "RACEWAY_INVALID_ENVIRONMENT"); err != nil {
		return cfg, err
	}
	if cfg.version, err = resolveResourceName(o.version, "version", getenv("RACEWAY_VERSION"), "RACEWAY_VERSION", otelServiceVersion(otelResource), "RACEWAY_INVALID_VERSION"); err != nil {
		return cfg, err
	}
	if cfg.serverURL, cfg.endpoint, err = resolveServerURL(o.serverURL, getenv("RACEWAY_URL")); err != nil {
		return cfg, err
	}
	if cfg.apiKey, err = resolveAPIKey(o.apiKey, getenv("RACEWAY_API_KEY")); err != nil {
		return cfg, err
	}
	if cfg.instance, err = resolveInstance(o.instance, getenv("RACEWAY_INSTANCE")); err != nil {
		return cfg, err
	}
	if cfg.sampleRate, err = resolveSampleRate(o.sampleRate, getenv("RACEWAY_SAMPLE_RATE")); err != nil {
		return cfg, err
	}
	debug, err := resolveBool(o.debug, getenv("RACEWAY_DEBUG"), "RACEWAY_DEBUG", "RACEWAY_INVALID_DEBUG")
	if err != nil {
		return cfg, err
	}
	switch {
	case o.logger != nil && (o.debug == nil || *o.debug):
		cfg.logger = o.logger
	case debug:
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "raceway")
	}
	cfg.debug = cfg.logger != nil
	if cfg.batchSize, err = intOption(o.batchSize, DefaultBatchSize, "batch size", "RACEWAY_INVALID_BATCH_SIZE", 1, 5000); err != nil {
		return cfg, err
	}
	if cfg.maxQueueSize, err = intOption(o.maxQueueSize, DefaultMaxQueueSize, "max queue size", "RACEWAY_INVALID_MAX_QUEUE_SIZE", 1, 10_000_000); err != nil {
		return cfg, err
	}
	if cfg.maxQueueBytes, err = intOption(o.maxQueueBytes, DefaultMaxQueueBytes, "max queue bytes", "RACEWAY_INVALID_MAX_QUEUE_BYTES", 1024, maxQueueBytesLimit); err != nil {
		return cfg, err
	}
	if cfg.maxRetries, err = intOption(o.maxRetries, unlimitedRetries, "max retries", "RACEWAY_INVALID_MAX_RETRIES", 0, 100); err != nil {
		return cfg, err
	}
	if cfg.flushInterval, err = durationOption(o.flushInterval, DefaultFlushInterval, "flush interval", "RACEWAY_INVALID_FLUSH_INTERVAL"); err != nil {
		return cfg, err
	}
	if cfg.requestTimeout, err = durationOption(o.requestTimeout, DefaultRequestTimeout, "request timeout", "RACEWAY_INVALID_REQUEST_TIMEOUT"); err != nil {
		return cfg, err
	}
	cfg.backoff = defaultBackoff
	if o.backoff != nil {
		cfg.backoff = *o.backoff
	}
	cfg.maxInFlight = maxBatchesInFlight
	if o.maxInFlight > 0 {
		cfg.maxInFlight = o.maxInFlight
	}
	if cfg.propagate, err = resolvePropagate(o.propagateFunc, o.propagateTo, getenv("RACEWAY_PROPAGATE_TO")); err != nil {
		return cfg, err
	}
	ignore := DefaultIgnorePaths
	if o.ignorePaths != nil {
		ignore = *o.ignorePaths
	}
	if cfg.ignorePath, err = compileIgnorePaths(ignore); err != nil {
		return cfg, err
	}
	cfg.routeFunc = o.routeFunc
	cfg.httpClient = o.httpClient
	if err = resolveQueryCapture(&cfg, o, getenv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// resolveQueryCapture: capture_queries (default on), capture_values (default off) and
// digest_key (spec 7 d).
func resolveQueryCapture(cfg *config, o options, getenv func(string) string) error {
	var err error
	cfg.captureQueries = true
	if o.captureQueries != nil || strings.TrimSpace(getenv("RACEWAY_DB_CAPTURE")) != "" {
		if cfg.captureQueries, err = resolveBool(o.captureQueries, getenv("RACEWAY_DB_CAPTURE"), "RACEWAY_DB_CAPTURE", "RACEWAY_INVALID_DB_CAPTURE"); err != nil {
			return err
		}
	}
	if cfg.captureValues, err = resolveBool(o.captureValues, getenv("RACEWAY_DB_CAPTURE_VALUES"), "RACEWAY_DB_CAPTURE_VALUES", "RACEWAY_INVALID_DB_CAPTURE_VALUES"); err != nil {
		return err
	}
	raw, source := getenv("RACEWAY_DIGEST_KEY"), "RACEWAY_DIGEST_KEY"
	if o.digestKey != nil {
		raw, source = *o.digestKey, "digest key"
	} else if strings.TrimSpace(raw) == "" {
		raw = DefaultDigestKey
	}
	if cfg.digestKey = strings.TrimSpace(raw); cfg.digestKey == "" {
		// The key itself is never echoed: it is a secret.
		return configErr("RACEWAY_INVALID_DIGEST_KEY", "%s must not be empty", source)
	}
	return nil
}

var (
	trueWords  = map[string]bool{"1": true, "true": true, "yes": true, "on": true}
	falseWords = map[string]bool{"0": true, "false": true, "no": true, "off": true, "": true}
)

// resolveDisabled: the option, else RACEWAY_DISABLED, else OpenTelemetry's OTEL_SDK_DISABLED
// (spec 7 c), read as OpenTelemetry reads it: true only for "true" in any case, anything else
// false and never an error (it is OpenTelemetry's variable, not Raceway's).
func resolveDisabled(option *bool, env, otelEnv string) (bool, error) {
	if option == nil && strings.TrimSpace(env) == "" {
		return strings.EqualFold(strings.TrimSpace(otelEnv), "true"), nil
	}
	return resolveBool(option, env, "RACEWAY_DISABLED", "RACEWAY_INVALID_DISABLED")
}

// resolveBool: the option, else the variable (spec 7 c: 1, true, yes, on / 0, false, no, off,
// in any case and trimmed; blank is unset, so false), else false.
func resolveBool(option *bool, env, envName, code string) (bool, error) {
	if option != nil {
		return *option, nil
	}
	word := strings.ToLower(strings.TrimSpace(env))
	switch {
	case trueWords[word]:
		return true, nil
	case falseWords[word]:
		return false, nil
	}
	return false, configErr(code, "%s must be one of 1, true, yes, on, 0, false, no, off, got %q", envName, env)
}

// resolveServiceName: the option, else RACEWAY_SERVICE_NAME, else OpenTelemetry's
// OTEL_SERVICE_NAME, so that a service traced by both has one name.
func resolveServiceName(option *string, env, otelEnv string, disabled bool) (string, error) {
	if option != nil {
		return validName(*option, "service name", "RACEWAY_INVALID_SERVICE_NAME")
	}
	for _, v := range []struct{ value, source string }{
		{env, "RACEWAY_SERVICE_NAME"}, {otelEnv, "OTEL_SERVICE_NAME"},
	} {
		if strings.TrimSpace(v.value) != "" {
			return validName(v.value, v.source, "RACEWAY_INVALID_SERVICE_NAME")
		}
	}
	if disabled {
		return disabledServiceName, nil
	}
	return "", configErr("RACEWAY_MISSING_SERVICE_NAME", "a service name is required: pass WithServiceName or set RACEWAY_SERVICE_NAME (or OTEL_SERVICE_NAME)")
}

func resolveInstance(option *string, env string) (string, error) {
	raw, source := strings.TrimSpace(env), "RACEWAY_INSTANCE"
	if option != nil {
		raw, source = *option, "instance"
	}
	if raw == "" && option == nil {
		return defaultInstance(), nil
	}
	return validName(raw, source, "RACEWAY_INVALID_INSTANCE")
}

// defaultInstance is `<host name>:<pid>`, its last 128 bytes when longer.
func defaultInstance() string {
	host, _ := os.Hostname()
	name := host + ":" + strconv.Itoa(os.Getpid())
	if len(name) > maxNameLength {
		name = cutPrefix(name, len(name)-maxNameLength)
	}
	return name
}

// cutPrefix drops the first n bytes of s, and the rest of a UTF-8 sequence cut there.
func cutPrefix(s string, n int) string {
	s = s[n:]
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return s
}

// validName is a service or instance name (spec 7): trimmed, 1-128 characters, valid UTF-8,
// and none of the characters notInNames refuses.
func validName(raw, source, code string) (string, error) {
	name := strings.TrimSpace(raw)
	bad := name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameLength
	for _, r := range name {
		if notInNames(r) {
			bad = true
		}
	}
	if bad {
		return "", configErr(code, "%s must be 1-%d characters without control, zero-width or bidirectional-formatting characters, got %q", source, maxNameLength, raw)
	}
	return name, nil
}

// notInNames tells the characters no name may hold (spec 4, event.schema.json): controls,
// zero-width characters and bidirectional formatting, which would make a name in the UI read
// as another.
func notInNames(r rune) bool {
	switch {
	case r <= 0x1f, r >= 0x7f && r <= 0x9f: // C0, DEL, C1
		return true
	case r >= 0x200b && r <= 0x200f: // zero-width space, (non-)joiner, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e: // bidirectional embeddings and overrides
		return true
	case r >= 0x2060 && r <= 0x2064: // word joiner, invisible operators
		return true
	case r >= 0x2066 && r <= 0x2069: // bidirectional isolates
		return true
	}
	return r == 0xfeff // zero-width no-break space (byte order mark)
}

func resolveServerURL(option *string, env string) (serverURL, endpoint string, err error) {
	raw := strings.TrimSpace(env)
	if option != nil {
		raw = strings.TrimSpace(*option)
	}
	if raw == "" {
		raw = DefaultServerURL
	}
	u, perr := url.Parse(raw)
	switch {
	case perr != nil || u.Host == "":
		return "", "", configErr("RACEWAY_INVALID_URL", "server URL is not a valid URL: %q", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "", configErr("RACEWAY_INVALID_URL", "server URL must be http: or https:, got %q", raw)
	case u.User != nil:
		return "", "", configErr("RACEWAY_INVALID_URL", "server URL must not contain credentials; use WithAPIKey instead")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", "", configErr("RACEWAY_INVALID_URL", "server URL must not have a query or fragment, got %q", raw)
	}
	// A base path is kept (a collector behind a reverse proxy at /raceway).
	base := u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/")
	return base, base + "/v1/events", nil
}

func resolveAPIKey(option *string, env string) (string, error) {
	raw, source := env, "RACEWAY_API_KEY"
	if option != nil {
		raw, source = *option, "API key"
	}
	// An empty value is what an unset variable interpolated into the options looks like.
	key := strings.TrimSpace(raw)
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			// The key itself is never echoed: it is a secret.
			return "", configErr("RACEWAY_INVALID_API_KEY", "%s must be visible ASCII characters without spaces", source)
		}
	}
	return key, nil
}

func resolveSampleRate(option *float64, env string) (float64, error) {
	if option != nil {
		// NaN fails both comparisons.
		if !(*option >= 0 && *option <= 1) {
			return 0, configErr("RACEWAY_INVALID_SAMPLE_RATE", "sample rate must be a number from 0 to 1, got %v", *option)
		}
		return *option, nil
	}
	rate, set, ok := parseSampleRate(env)
	switch {
	case !ok:
		return 0, configErr("RACEWAY_INVALID_SAMPLE_RATE", "RACEWAY_SAMPLE_RATE must be a decimal number from 0 to 1 (such as 0.25), got %q", env)
	case !set:
		return 1, nil
	}
	return rate, nil
}

func intOption(v *int, def int, name, code string, lo, hi int64) (int, error) {
	if v == nil {
		return def, nil
	}
	if int64(*v) < lo || int64(*v) > hi {
		return 0, configErr(code, "%s must be an integer from %d to %d, got %d", name, lo, hi, *v)
	}
	return *v, nil
}

// durationOption: from 1 ms to maxTimerMs ms (spec 7 writes these settings in whole
// milliseconds; a Duration with a fraction of a millisecond is taken as it is).
func durationOption(v *time.Duration, def time.Duration, name, code string) (time.Duration, error) {
	if v == nil {
		return def, nil
	}
	if *v < time.Millisecond || *v > maxTimerMs*time.Millisecond {
		return 0, configErr(code, "%s must be from 1ms to %v, got %v", name, maxTimerMs*time.Millisecond, *v)
	}
	return *v, nil
}
