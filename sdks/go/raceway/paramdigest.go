package raceway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"sync"
	"time"
)

// DefaultDigestKey is the key of parameter digests when neither WithDigestKey nor
// RACEWAY_DIGEST_KEY is set (spec 4.3).
const DefaultDigestKey = "raceway-digest-v1"

// CanonicalParam is the canonical form of a query parameter (spec 4.3): what its digest
// hashes, so that equal values give equal digests in every language. A driver.Valuer is
// resolved first; then nil is `n`, a bool `b:true`, an integer (or a float with an integral
// value) `i:42`, any other float `f:` and its IEEE-754 bits, a string `s:mug`, []byte `x:` and
// its hex, a time.Time `s:` and its ISO 8601 form in UTC with milliseconds
// (`s:2024-01-02T03:04:05.000Z`), and anything else `j:` and its JSON with sorted keys.
func CanonicalParam(v any) string {
	if valuer, ok := v.(driver.Valuer); ok {
		if resolved, ok := resolveValuer(valuer); ok {
			v = resolved
		}
	}
	switch x := v.(type) {
	case nil:
		return "n"
	case bool:
		if x {
			return "b:true"
		}
		return "b:false"
	case int:
		return "i:" + strconv.FormatInt(int64(x), 10)
	case int8:
		return "i:" + strconv.FormatInt(int64(x), 10)
	case int16:
		return "i:" + strconv.FormatInt(int64(x), 10)
	case int32:
		return "i:" + strconv.FormatInt(int64(x), 10)
	case int64:
		return "i:" + strconv.FormatInt(x, 10)
	case uint:
		return "i:" + strconv.FormatUint(uint64(x), 10)
	case uint8:
		return "i:" + strconv.FormatUint(uint64(x), 10)
	case uint16:
		return "i:" + strconv.FormatUint(uint64(x), 10)
	case uint32:
		return "i:" + strconv.FormatUint(uint64(x), 10)
	case uint64:
		return "i:" + strconv.FormatUint(x, 10)
	case float32:
		return canonicalFloat(float64(x))
	case float64:
		return canonicalFloat(x)
	case *big.Int:
		if x == nil {
			return "n"
		}
		return "i:" + x.String()
	case string:
		return "s:" + x
	case []byte:
		if x == nil {
			return "n" // what the drivers send for a nil slice: NULL
		}
		return "x:" + hex.EncodeToString(x)
	case time.Time:
		return "s:" + isoTime(x)
	case json.RawMessage:
		return "j:" + sortedJSON(x)
	}
	return canonicalByKind(v)
}

// canonicalByKind handles named types (type ID int64) and pointers by their kind, as the
// drivers do when they convert a parameter.
func canonicalByKind(v any) string {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return "n"
		}
		return CanonicalParam(rv.Elem().Interface())
	case reflect.Bool:
		return CanonicalParam(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return CanonicalParam(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return CanonicalParam(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return CanonicalParam(rv.Float())
	case reflect.String:
		return CanonicalParam(rv.String())
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return CanonicalParam(rv.Bytes())
		}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		raw, _ = json.Marshal(fmt.Sprint(v))
	}
	return "j:" + sortedJSON(raw)
}

// resolveValuer calls Value, which is application code: a panic or an error leaves the value
// as it was.
func resolveValuer(valuer driver.Valuer) (v any, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if rv := reflect.ValueOf(valuer); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return nil, true // database/sql sends a nil pointer Valuer as NULL
	}
	resolved, err := valuer.Value()
	return resolved, err == nil
}

// canonicalFloat: an integral value is that integer, exactly (1e21 is i:1000000000000000000000,
// -0.0 is i:0); any other value is its IEEE-754 bits (NaN has one form).
func canonicalFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "f:7ff8000000000000"
	case f == 0:
		return "i:0"
	case !math.IsInf(f, 0) && math.Trunc(f) == f:
		if math.Abs(f) < 1<<63 {
			return "i:" + strconv.FormatInt(int64(f), 10)
		}
		return "i:" + new(big.Float).SetFloat64(f).Text('f', 0)
	}
	bits := strconv.FormatUint(math.Float64bits(f), 16)
	return "f:" + "0000000000000000"[len(bits):] + bits
}

// isoTime is a time as JavaScript's toISOString and the TypeScript drivers give it: UTC, with
// milliseconds.
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// sortedJSON re-encodes JSON with object keys sorted at every level and no white space (Go
// sorts map keys; struct fields keep their order until decoded into a map). HTML characters
// are left as they are, as JavaScript's JSON.stringify leaves them.
func sortedJSON(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return string(raw)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return string(raw)
	}
	return string(bytes.TrimSuffix(out.Bytes(), []byte("\n")))
}

// ParamDigest is the digest of a query parameter (spec 4.3): the first 8 bytes of
// HMAC-SHA256 over its canonical form (CanonicalParam), keyed with key, as 16 lowercase hex
// digits. Equal values give equal digests across services and languages that share the key.
func ParamDigest(v any, key string) string {
	return digestCanonical(CanonicalParam(v), key)
}

// An HMAC costs a few microseconds, and a query digests its parameters and the values it read:
// the same ids and values come back query after query, so the recent digests of short values
// are kept, a bounded number of them, oldest out first.
const (
	maxCachedDigests = 4096
	maxCachedLength  = 256
)

type digestCacheKey struct{ key, canonical string }

var digestCache = struct {
	sync.Mutex
	byValue map[digestCacheKey]string
	order   [maxCachedDigests]digestCacheKey // a ring: next is the oldest once full
	next    int
}{byValue: make(map[digestCacheKey]string, maxCachedDigests)}

func digestCanonical(canonical, key string) string {
	if len(canonical) > maxCachedLength {
		return hmacDigest(canonical, key)
	}
	k := digestCacheKey{key, canonical}
	digestCache.Lock()
	digest, ok := digestCache.byValue[k]
	digestCache.Unlock()
	if ok {
		return digest
	}
	digest = hmacDigest(canonical, key)
	digestCache.Lock()
	if _, ok := digestCache.byValue[k]; !ok {
		if len(digestCache.byValue) == maxCachedDigests {
			delete(digestCache.byValue, digestCache.order[digestCache.next])
		}
		digestCache.byValue[k] = digest
		digestCache.order[digestCache.next] = k
		digestCache.next = (digestCache.next + 1) % maxCachedDigests
	}
	digestCache.Unlock()
	return digest
}

// keyedMACs keeps, per digest key, HMAC states ready to use: hmac.New hashes the key's pads
// each time, Reset only restores them.
var keyedMACs sync.Map // key string -> *sync.Pool of hash.Hash

func hmacDigest(canonical, key string) string {
	pool, ok := keyedMACs.Load(key)
	if !ok {
		pool, _ = keyedMACs.LoadOrStore(key, &sync.Pool{New: func() any { return hmac.New(sha256.New, []byte(key)) }})
	}
	mac := pool.(*sync.Pool).Get().(hash.Hash)
	mac.Reset()
	_, _ = io.WriteString(mac, canonical)
	var sum [sha256.Size]byte
	var out [16]byte
	hex.Encode(out[:], mac.Sum(sum[:0])[:8])
	pool.(*sync.Pool).Put(mac)
	return string(out[:])
}
