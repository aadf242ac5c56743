package raceway

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

func env(vars map[string]string) Option {
	return withGetenv(func(name string) string { return vars[name] })
}

func TestConfigFromEnvironmentAndOptions(t *testing.T) {
	cfg, err := resolveConfig([]Option{env(map[string]string{
		"RACEWAY_SERVICE_NAME": " checkout ",
		"RACEWAY_URL":          "https://collector.internal:9000/raceway/",
		"RACEWAY_API_KEY":      "k3y",
		"RACEWAY_SAMPLE_RATE":  "0.25",
		"RACEWAY_PROPAGATE_TO": "api.example.com, *.corp.example",
		"RACEWAY_INSTANCE":     "pod-7",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.serviceName != "checkout" || cfg.endpoint != "https://collector.internal:9000/raceway/v1/events" ||
		cfg.apiKey != "k3y" || cfg.sampleRate != 0.25 || cfg.instance != "pod-7" || cfg.disabled {
		t.Errorf("config %+v", cfg)
	}
	for raw, want := range map[string]bool{
		"https://api.example.com/x": true, "http://a.corp.example/": true, "http://localhost/": false,
	} {
		u, _ := url.Parse(raw)
		if cfg.propagate(u) != want {
			t.Errorf("propagate(%s) = %v", raw, !want)
		}
	}
	// OpenTelemetry's variable comes after Raceway's.
	if cfg, err := resolveConfig([]Option{env(map[string]string{"OTEL_SERVICE_NAME": "otel-name"})}); err != nil || cfg.serviceName != "otel-name" {
		t.Errorf("OTEL_SERVICE_NAME: %q %v", cfg.serviceName, err)
	}
	if cfg, _ := resolveConfig([]Option{env(map[string]string{"OTEL_SERVICE_NAME": "otel", "RACEWAY_SERVICE_NAME": "rw"})}); cfg.serviceName != "rw" {
		t.Errorf("RACEWAY_SERVICE_NAME must win: %q", cfg.serviceName)
	}
	// Code wins over the environment.
	cfg, err = resolveConfig([]Option{
		env(map[string]string{"RACEWAY_SERVICE_NAME": "env", "RACEWAY_SAMPLE_RATE": "0.5", "RACEWAY_DISABLED": "yes"}),
		WithServiceName("code"), WithSampleRate(0), WithDisabled(false), WithFlushInterval(time.Minute),
	})
	if err != nil || cfg.serviceName != "code" || cfg.sampleRate != 0 || cfg.disabled || cfg.flushInterval != time.Minute {
		t.Errorf("config %+v, %v", cfg, err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string][]Option{
		"RACEWAY_MISSING_SERVICE_NAME":   {env(nil)},
		"RACEWAY_INVALID_SERVICE_NAME":   {env(nil), WithServiceName("bad\nname")},
		"RACEWAY_INVALID_URL":            {env(nil), WithServiceName("a"), WithServerURL("ftp://x")},
		"RACEWAY_INVALID_API_KEY":        {env(nil), WithServiceName("a"), WithAPIKey("has space")},
		"RACEWAY_INVALID_DISABLED":       {env(map[string]string{"RACEWAY_DISABLED": "maybe"}), WithServiceName("a")},
		"RACEWAY_INVALID_SAMPLE_RATE":    {env(map[string]string{"RACEWAY_SAMPLE_RATE": "1e-1"}), WithServiceName("a")},
		"RACEWAY_INVALID_BATCH_SIZE":     {env(nil), WithServiceName("a"), WithBatchSize(0)},
		"RACEWAY_INVALID_PROPAGATE_TO":   {env(nil), WithServiceName("a"), WithPropagateTo("bad host")},
		"RACEWAY_INVALID_IGNORE_PATHS":   {env(nil), WithServiceName("a"), WithIgnorePaths("health")},
		"RACEWAY_INVALID_MAX_RETRIES":    {env(nil), WithServiceName("a"), WithMaxRetries(101)},
		"RACEWAY_INVALID_FLUSH_INTERVAL": {env(nil), WithServiceName("a"), WithFlushInterval(0)},
	}
	// Beyond config.json: what only Go's types can say.
	for name, opts := range map[string][]Option{
		"a flush interval under 1 ms":        {WithFlushInterval(999 * time.Microsecond)},
		"a request timeout over 2^31-1 ms":   {WithRequestTimeout((1 << 31) * time.Millisecond)},
		"a service name that is not UTF-8":   {WithServiceName("shop\xff")},
		"an instance with a C1 control":      {WithInstance("pod\u0085-1")},
		"an instance with a byte order mark": {WithInstance("\ufeffpod")},
	} {
		if _, err := resolveConfig(append([]Option{env(nil), WithServiceName("a")}, opts...)); err == nil {
			t.Errorf("%s must be refused", name)
		}
	}
	if cfg, err := resolveConfig([]Option{env(nil), WithServiceName("a"), WithFlushInterval(1500 * time.Microsecond)}); err != nil || cfg.flushInterval != 1500*time.Microsecond {
		t.Errorf("a fraction of a millisecond is kept: %v, %v", cfg.flushInterval, err)
	}
	for code, opts := range cases {
		_, err := New(opts...)
		var cfgErr *ConfigError
		if !errors.As(err, &cfgErr) || cfgErr.Code != code {
			t.Errorf("%s: got %v", code, err)
		}
	}
	if _, err := New(WithSampleRate(1.5), WithServiceName("a"), env(nil)); err == nil {
		t.Errorf("a rate above 1 must be refused")
	}
	c, err := New(env(map[string]string{"RACEWAY_DISABLED": "1"}))
	if err != nil || !c.Disabled() {
		t.Errorf("a disabled client needs no service name: %v", err)
	}
}

func TestDefaultPropagateTo(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://inventory:3000/items": true, "http://127.0.0.1:8080": true, "http://[::1]:80": true,
		"http://10.1.2.3": true, "http://172.20.0.1": true, "http://172.32.0.1": false,
		"http://192.168.1.1": true, "http://db.internal": true, "http://printer.local.": true,
		"https://api.stripe.com/v1": false, "http://[2001:db8::1]/": false, "http://app.localhost": true,
	} {
		u, _ := url.Parse(raw)
		if got := DefaultPropagateTo(u); got != want {
			t.Errorf("DefaultPropagateTo(%s) = %v", raw, got)
		}
	}
}
