package raceway

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func queryCtx(client *Client) context.Context {
	return withExec(context.Background(), client.startServer(incoming{status: statusAbsent}))
}

func TestDBQueryEventFollowsTheSchema(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	ctx := queryCtx(client)
	q := StartQuery(ctx, Query{System: SystemPostgreSQL, Statement: "SELECT stock FROM products WHERE id = $1", Connection: "pgx#1", Database: "shop"})
	q.AddParam("", 42)
	q.AddParam("id", "mug")
	q.AddRow([]string{"stock"}, []driver.Value{int64(10)})
	q.End(1, nil, "")
	q.End(5, nil, "") // once only
	w := StartQuery(ctx, Query{System: SystemSQLite, Statement: "UPDATE t SET x = 1", Connection: "sqlite#1"})
	w.End(-1, errors.New("database is locked"), "SQLITE_BUSY")
	events := ofKind(flushed(t, client, col), kindDBQuery)
	if len(events) != 2 {
		t.Fatalf("%d events", len(events))
	}
	read := events[0].Data
	params := read["params"].([]any)
	if len(params) != 2 || params[0].(map[string]any)["digest"] != "73eb651a20385a68" || params[1].(map[string]any)["name"] != "id" {
		t.Errorf("params %v", params)
	}
	if _, ok := params[0].(map[string]any)["value"]; ok {
		t.Errorf("a raw value by default: %v", params[0])
	}
	if read["rows"] != 1.0 || read["database"] != "shop" || read["returned"].([]any)[0].(map[string]any)["stock"] != ParamDigest(10, DefaultDigestKey) {
		t.Errorf("%v", read)
	}
	failed := events[1].Data
	if failed["rows"] != nil || failed["error"].(map[string]any)["type"] != "SQLITE_BUSY" {
		t.Errorf("%v", failed)
	}
	if _, ok := failed["params"]; ok {
		t.Errorf("params without any: %v", failed["params"])
	}
}

func TestStartQueryRecordsNothingWhenItShouldNot(t *testing.T) {
	col := newFakeCollector(t)
	on := newTestClient(t, col)
	off := newTestClient(t, col, WithCaptureQueries(false))
	disabled, err := New(WithDisabled(true), withGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	unsampled := on.startServer(incoming{status: statusAbsent})
	unsampled.sampled = false
	q := Query{System: SystemSQLite, Statement: "SELECT 1", Connection: "sqlite#1"}
	for name, ctx := range map[string]context.Context{
		"outside a context": context.Background(),
		"capture off":       queryCtx(off),
		"disabled":          queryCtx(disabled),
		"unsampled":         withExec(context.Background(), unsampled),
	} {
		if QueryCapture(ctx) || StartQuery(ctx, q) != nil {
			t.Errorf("%s: recording", name)
		}
	}
	var nothing *QueryInFlight // every method of nil does nothing
	nothing.AddParam("", 1)
	nothing.AddRow(nil, nil)
	nothing.End(1, nil, "")
	if StartQuery(queryCtx(on), Query{System: SystemSQLite}) != nil {
		t.Error("an empty statement is recorded")
	}
	if events := ofKind(flushed(t, on, col), kindDBQuery); len(events) != 0 {
		t.Fatalf("%d events", len(events))
	}
}

type panickyJSON struct{}

func (panickyJSON) MarshalJSON() ([]byte, error) { panic("no JSON") }

func TestDBQueryRawValuesAndBounds(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col, WithCaptureValues(true))
	ctx := queryCtx(client)
	q := StartQuery(ctx, Query{System: SystemMySQL, Statement: strings.Repeat("x", MaxStatementLength+10), Connection: "mysql#1"})
	q.AddParam("", []byte{0xca, 0xfe})
	q.AddParam("", nil)
	q.AddParam("", panickyJSON{}) // a recorder that fails leaves the parameter out, nothing else
	for i := 0; i < 1200; i++ {
		q.AddParam("", i)
	}
	columns := make([]string, 40)
	values := make([]driver.Value, 40)
	for i := range columns {
		columns[i] = "c" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		values[i] = int64(i)
	}
	for i := 0; i < 12; i++ {
		q.AddRow(columns, values)
	}
	q.End(12, nil, "")
	e := onlyOne(t, flushed(t, client, col), kindDBQuery).Data
	if e["statement_truncated"] != true || len(e["statement"].(string)) != MaxStatementLength {
		t.Errorf("statement not cut")
	}
	params := e["params"].([]any)
	if len(params) != maxQueryParams || params[0].(map[string]any)["value"] != "cafe" || params[1].(map[string]any)["value"] != nil {
		t.Errorf("%d params, first %v %v", len(params), params[0], params[1])
	}
	if returned := e["returned"].([]any); len(returned) != maxReturnedRows || len(returned[0].(map[string]any)) != maxReturnedColumns {
		t.Errorf("returned %d rows of %d columns", len(returned), len(returned[0].(map[string]any)))
	}
}

type valuer struct{ v driver.Value }

func (v valuer) Value() (driver.Value, error) { return v.v, nil }

type productID int64

func TestCanonicalParamGoTypes(t *testing.T) {
	id := int64(7)
	var nilPtr *int64
	var nilValuer *valuer
	for _, c := range []struct {
		value any
		want  string
	}{
		{uint8(200), "i:200"}, {int16(-3), "i:-3"}, {uint64(math.MaxUint64), "i:18446744073709551615"},
		{float32(2), "i:2"}, {float32(0.5), "f:3fe0000000000000"}, {math.Inf(1), "f:7ff0000000000000"},
		{math.Ldexp(1, 70), "i:1180591620717411303424"},
		{time.Date(2024, 1, 2, 4, 4, 5, 6_000_000, time.FixedZone("CET", 3600)), "s:2024-01-02T03:04:05.006Z"},
		{valuer{"mug"}, "s:mug"}, {nilValuer, "n"}, {&id, "i:7"}, {nilPtr, "n"}, {productID(9), "i:9"},
		{[]byte(nil), "n"}, {json.RawMessage(`{"b": 1, "a": "<"}`), `j:{"a":"<","b":1}`},
		{struct {
			Z int `json:"z"`
			A int `json:"a"`
		}{1, 2}, `j:{"a":2,"z":1}`},
		{map[string]any{"é": 1, "e": 2}, `j:{"e":2,"é":1}`},
	} {
		if got := CanonicalParam(c.value); got != c.want {
			t.Errorf("CanonicalParam(%#v) = %q, want %q", c.value, got, c.want)
		}
	}
}

func TestNewConnectionIDIsUniquePerPrefix(t *testing.T) {
	a, b, c := NewConnectionID("idtest"), NewConnectionID("idtest"), NewConnectionID("idother")
	if a != "idtest#1" || b != "idtest#2" || c != "idother#1" {
		t.Fatalf("%s %s %s", a, b, c)
	}
}

func TestQueryCaptureConfig(t *testing.T) {
	env := func(vars map[string]string) Option {
		return withGetenv(func(name string) string { return vars[name] })
	}
	for _, c := range []struct {
		name          string
		opts          []Option
		capture, vals bool
		key, code     string
	}{
		{"defaults", nil, true, false, DefaultDigestKey, ""},
		{"env", []Option{env(map[string]string{"RACEWAY_DB_CAPTURE": " off ", "RACEWAY_DB_CAPTURE_VALUES": "YES", "RACEWAY_DIGEST_KEY": " shop "})}, false, true, "shop", ""},
		{"blank env is unset", []Option{env(map[string]string{"RACEWAY_DB_CAPTURE": " ", "RACEWAY_DIGEST_KEY": "  "})}, true, false, DefaultDigestKey, ""},
		{"options win", []Option{env(map[string]string{"RACEWAY_DB_CAPTURE": "0", "RACEWAY_DIGEST_KEY": "env"}), WithCaptureQueries(true), WithDigestKey("code")}, true, false, "code", ""},
		{"bad capture", []Option{env(map[string]string{"RACEWAY_DB_CAPTURE": "maybe"})}, false, false, "", "RACEWAY_INVALID_DB_CAPTURE"},
		{"bad values", []Option{env(map[string]string{"RACEWAY_DB_CAPTURE_VALUES": "2"})}, false, false, "", "RACEWAY_INVALID_DB_CAPTURE_VALUES"},
		{"empty key", []Option{WithDigestKey(" ")}, false, false, "", "RACEWAY_INVALID_DIGEST_KEY"},
	} {
		opts := append([]Option{WithServiceName("shop"), withGetenv(func(string) string { return "" })}, c.opts...)
		cfg, err := resolveConfig(opts)
		var cfgErr *ConfigError
		switch {
		case c.code != "":
			if !errors.As(err, &cfgErr) || cfgErr.Code != c.code {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case cfg.captureQueries != c.capture || cfg.captureValues != c.vals || cfg.digestKey != c.key:
			t.Errorf("%s: %v %v %q", c.name, cfg.captureQueries, cfg.captureValues, cfg.digestKey)
		}
		if err != nil && strings.Contains(err.Error(), "env") && c.code == "RACEWAY_INVALID_DIGEST_KEY" {
			t.Errorf("the key is echoed: %v", err)
		}
	}
}
