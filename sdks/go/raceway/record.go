package raceway

import (
	"context"
	"sync"
)

// recording is the execution context of ctx when it records: nil outside traced work and in
// an unsampled trace, where no event data is even built (spec 5.4).
func recording(ctx context.Context) *execContext {
	if x := execFrom(ctx); x != nil && x.sampled {
		return x
	}
	return nil
}

// A StateOption adds what was seen or written to a state event.
type StateOption func(*stateData)

// Value records the value read or written, as JSON (cut to 1 KiB of text). Two reads that saw
// the same value are the collector's strongest evidence of a lost update.
func Value(v any) StateOption {
	return func(d *stateData) { d.Value = eventValue(v) }
}

// Version records a version, etag or counter of the state: a string or an integer (anything
// else is recorded as its text).
func Version(v any) StateOption {
	return func(d *stateData) { d.Version = eventVersion(v) }
}

// Atomic marks a write as atomic (compare-and-set, UPDATE ... SET x = x - 1): it cannot lose
// another write, so the collector does not report it as one side of a lost update.
func Atomic() StateOption {
	return func(d *stateData) { t := true; d.Atomic = &t }
}

// TrackStateRead records that the work of ctx read a named shared resource:
//
//	raceway.TrackStateRead(ctx, "stock:sku-42", raceway.Value(stock), raceway.Version(rev))
//
// Without a Raceway context in ctx, or with an empty name, nothing is recorded.
func TrackStateRead(ctx context.Context, resource string, opts ...StateOption) {
	trackState(ctx, kindStateRead, resource, opts)
}

// TrackStateWrite records that the work of ctx wrote a named shared resource.
func TrackStateWrite(ctx context.Context, resource string, opts ...StateOption) {
	trackState(ctx, kindStateWrite, resource, opts)
}

func trackState(ctx context.Context, kind, resource string, opts []StateOption) {
	x := recording(ctx)
	if x == nil || resource == "" {
		return
	}
	data := stateData{Resource: cutString(resource, maxResource)}
	for _, opt := range opts {
		if opt != nil {
			opt(&data)
		}
	}
	if kind == kindStateRead {
		data.Atomic = nil // the schema knows atomic on writes only
	}
	x.record(kind, data, nil)
}

// TrackLockAcquire records that the work of ctx holds a named lock from now on; accesses under
// a common lock are not races. WithLock records both ends around a sync.Locker.
func TrackLockAcquire(ctx context.Context, lock string) { trackLock(ctx, kindLockAcquire, lock) }

// TrackLockRelease records that the work of ctx released a named lock.
func TrackLockRelease(ctx context.Context, lock string) { trackLock(ctx, kindLockRelease, lock) }

func trackLock(ctx context.Context, kind, lock string) {
	if x := recording(ctx); x != nil && lock != "" {
		x.record(kind, lockData{Lock: cutString(lock, maxResource)}, nil)
	}
}

// WithLock takes l (when not nil), records lock_acquire, runs fn, records lock_release and
// releases l, also when fn panics. It returns fn's error.
//
//	err := raceway.WithLock(ctx, "stock:sku-42", &stockMu, func() error {
//		return reserve(ctx, "sku-42")
//	})
func WithLock(ctx context.Context, name string, l sync.Locker, fn func() error) error {
	if l != nil {
		l.Lock()
		defer l.Unlock()
	}
	TrackLockAcquire(ctx, name)
	defer TrackLockRelease(ctx, name)
	return fn()
}

// RecordError records an error event in the work of ctx (a failed query, a recovered panic).
func RecordError(ctx context.Context, err error) {
	if x := recording(ctx); x != nil && err != nil {
		x.record(kindError, *errorInfo(err, ""), nil)
	}
}

// RecordEvent records a custom event with a name (1-256 characters) and optional attributes.
func RecordEvent(ctx context.Context, name string, attributes map[string]any) {
	x := recording(ctx)
	if x == nil || name == "" {
		return
	}
	data := customData{Name: cutString(name, maxCustomName)}
	if len(attributes) > 0 {
		data.Attributes = make(map[string]any, len(attributes))
		for k, v := range attributes {
			data.Attributes[k] = eventValue(v)
		}
	}
	x.record(kindCustom, data, nil)
}
