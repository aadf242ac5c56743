package raceway

import (
	"context"
	"sync"
)

// execContext is one execution context (spec 3.1): the handling of one incoming request, or a
// branch the application forked. Its clock is guarded by mu, so that goroutines sharing one
// context.Context can record concurrently: each event increments and snapshots the clock in
// one critical section.
type execContext struct {
	client       *Client
	traceID      string
	spanID       string
	parentSpanID string
	component    string
	flags        string // trace flags sent in traceparent
	sampled      bool   // false: nothing is recorded, headers still propagate
	tracestate   string

	mu           sync.Mutex
	clock        vclock
	clockDropped uint64        // entries the clock lacks since it was received truncated
	manualCalls  []*clientCall // calls made by hand still open, oldest first (spec 2.7)
}

// maxManualCalls bounds the open calls made by hand per context; beyond, the oldest is
// forgotten (spec 2.7).
const maxManualCalls = 256

func (x *execContext) openManualCall(call *clientCall) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.manualCalls) == maxManualCalls {
		x.manualCalls[0] = nil
		x.manualCalls = x.manualCalls[1:]
	}
	x.manualCalls = append(x.manualCalls, call)
}

// closeManualCall removes and returns the open call that sent traceparent, or the oldest
// one when traceparent is ""; nil when there is none.
func (x *execContext) closeManualCall(traceparent string) *clientCall {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, call := range x.manualCalls {
		if traceparent == "" || call.traceparent() == traceparent {
			x.manualCalls = append(x.manualCalls[:i:i], x.manualCalls[i+1:]...)
			return call
		}
	}
	return nil
}

type contextKey struct{}

// withExec returns ctx carrying x as its execution context.
func withExec(ctx context.Context, x *execContext) context.Context {
	return context.WithValue(ctx, contextKey{}, x)
}

// execFrom returns the execution context ctx carries, or nil.
func execFrom(ctx context.Context) *execContext {
	if ctx == nil {
		return nil
	}
	x, _ := ctx.Value(contextKey{}).(*execContext)
	return x
}

// tick is one step of the context's own component (spec 3.2): the clock after it, in
// canonical form cut to the wire bound.
func (x *execContext) tick() encodedClock {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.clock.increment(x.component)
	return encodeClock(x.clock, x.component, x.clockDropped)
}

// recordOptions are what a client-call event changes of the context's defaults.
type recordOptions struct {
	spanID       string // the call's span instead of the context's
	parentSpanID string
	clock        *encodedClock // a step already taken (response_sent's, at the headers)
	tsUs         int64         // when that step was taken, instead of now (0: now)
}

// tsOf is an event's timestamp: the time of a step taken earlier, else now.
func tsOf(opts *recordOptions) int64 {
	if opts != nil && opts.tsUs != 0 {
		return opts.tsUs
	}
	return nowMicros()
}

// record records one event of this context. Never panics into the application.
func (x *execContext) record(kind string, data any, opts *recordOptions) {
	if !x.sampled {
		return
	}
	var clock encodedClock
	if opts != nil && opts.clock != nil {
		clock = *opts.clock
	} else {
		clock = x.tick()
	}
	e := &event{
		ID:           newEventID(),
		TraceID:      x.traceID,
		SpanID:       x.spanID,
		ParentSpanID: x.parentSpanID,
		Service:      x.client.cfg.serviceName,
		Instance:     x.client.cfg.instance,
		Component:    x.component,
		TsUs:         tsOf(opts),
		Kind:         kind,
		Clock:        clock,
		Data:         data,
	}
	if opts != nil && opts.spanID != "" {
		e.SpanID, e.ParentSpanID = opts.spanID, opts.parentSpanID
	}
	x.client.emit(e)
}

// merge takes a remote clock into this one (element-wise maximum, spec 2.6, 3.2).
func (x *execContext) merge(remote vclock, dropped uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.clock.merge(remote)
	if dropped > x.clockDropped {
		x.clockDropped = dropped
	}
}

// snapshot is a copy of the clock, for joins.
func (x *execContext) snapshot() (vclock, uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.clock.clone(), x.clockDropped
}

// fork records a fork event and returns the child: the parent's clock after the fork event
// plus the child's own component (spec 3.2). The child shares the parent's span.
func (x *execContext) fork() *execContext {
	child := &execContext{
		client:       x.client,
		traceID:      x.traceID,
		spanID:       x.spanID,
		parentSpanID: x.parentSpanID,
		component:    newComponent(x.client.servicePart),
		flags:        x.flags,
		sampled:      x.sampled,
		tracestate:   x.tracestate,
	}
	if !x.sampled {
		return child // records nothing and sends no clock: no copy to make (spec 5.4)
	}
	x.record(kindFork, branchData{Child: child.component}, nil)
	child.clock, child.clockDropped = x.snapshot()
	return child
}

// join merges the child's final clock into the parent and records a join event (spec 3.2).
func (x *execContext) join(child *execContext) {
	if !x.sampled {
		return
	}
	clock, dropped := child.snapshot()
	x.merge(clock, dropped)
	x.record(kindJoin, branchData{Child: child.component}, nil)
}

// Branch is a concurrent branch of a request's work: its own execution context, so that what
// it records is concurrent with what its siblings record (and a race between them is seen).
// Made by Fork; its Context goes to the goroutine; Join is called once the goroutine is done.
type Branch struct {
	parent *execContext
	child  *execContext
	ctx    context.Context
	once   sync.Once
}

// Fork starts a concurrent branch of the execution context that ctx carries. A goroutine the
// application starts with ctx itself shares the parent's context (safe, but its events are
// ordered with the parent's); Fork gives it one of its own:
//
//	b := raceway.Fork(ctx)
//	go func() { defer wg.Done(); reserve(b.Context()) }()
//	wg.Wait()
//	b.Join()
//
// Without a Raceway context in ctx, the branch is ctx itself and Join does nothing.
func Fork(ctx context.Context) *Branch {
	parent := execFrom(ctx)
	if parent == nil {
		return &Branch{ctx: ctx}
	}
	child := parent.fork()
	return &Branch{parent: parent, child: child, ctx: withExec(ctx, child)}
}

// Context is the context the branch's work runs with.
func (b *Branch) Context() context.Context { return b.ctx }

// Join marks the branch as finished in its parent: the parent's clock takes the branch's, and
// a join event is recorded. Call it after the branch's goroutine has finished (after
// WaitGroup.Wait); calls after the first do nothing.
func (b *Branch) Join() {
	if b.parent == nil {
		return
	}
	b.once.Do(func() { b.parent.join(b.child) })
}

// Go runs fn in a new goroutine on a forked branch of ctx and returns a function that waits
// for it and joins the branch:
//
//	wait := raceway.Go(ctx, func(ctx context.Context) { reserve(ctx, item) })
//	charge(ctx, order)
//	wait()
func Go(ctx context.Context, fn func(ctx context.Context)) (wait func()) {
	b := Fork(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(b.Context())
	}()
	return func() {
		<-done
		b.Join()
	}
}

// TraceID returns the trace id of the execution context ctx carries, or "" when there is none.
func TraceID(ctx context.Context) string {
	if x := execFrom(ctx); x != nil {
		return x.traceID
	}
	return ""
}
