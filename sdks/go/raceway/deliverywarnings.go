package raceway

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// warningInterval: at most one delivery warning per interval, so that a dead collector cannot
// flood the application's log.
const warningInterval = time.Minute

// deliveryWarnings says what goes wrong with delivery without debug mode (spec 4.2, Warnings):
// the first problem of each kind (failing, dropping) at once, on the client's logger
// (WithLogger) or else slog.Default(), with the collector's URL and what to check; then at most
// one line of that kind a minute, counting what it left out. A wrong RACEWAY_URL must not look like a working application with an empty collector.
type deliveryWarnings struct {
	endpoint string
	logger   *slog.Logger // nil: slog.Default() at the time of the warning
	debug    bool         // every problem is logged
	now      func() time.Time

	mu                         sync.Mutex
	failingLimit, droppedLimit warningLimit
	warnedOutage               bool
}

// warningLimit is the rate limit of one kind of warning.
type warningLimit struct {
	last     time.Time // of the last warning; zero: none yet
	silenced int
}

func newDeliveryWarnings(cfg config) *deliveryWarnings {
	return &deliveryWarnings{endpoint: cfg.endpoint, logger: cfg.logger, debug: cfg.debug, now: time.Now}
}

// failing: a `retry` answer or no answer; the events are kept and sent again.
func (w *deliveryWarnings) failing(problem string, held int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sayLocked(&w.failingLimit, fmt.Sprintf("raceway: cannot deliver events to %s (%s); %d event(s) held and retried while the queue has room. "+
		"Check that the collector runs there and that RACEWAY_URL (WithServerURL) points to it", w.endpoint, problem, held)) {
		w.warnedOutage = true
	}
}

// dropped: events lost for good (spec 4.1): refused, unusable, retries exhausted, queue full.
func (w *deliveryWarnings) dropped(count int, problem string, status int) {
	hint := ""
	if status == 401 {
		hint = "; check RACEWAY_API_KEY (WithAPIKey) against the collector's keys"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sayLocked(&w.droppedLimit, fmt.Sprintf("raceway: %d event(s) for %s dropped: %s%s", count, w.endpoint, problem, hint))
}

// recovered: the collector answered again; said (at Info) only when the outage was warned about.
func (w *deliveryWarnings) recovered(failures int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.warnedOutage || w.debug {
		w.log().Info(fmt.Sprintf("raceway: collector at %s reachable again after %d failed attempt(s)", w.endpoint, failures))
	}
	w.warnedOutage = false
}

func (w *deliveryWarnings) sayLocked(limit *warningLimit, message string) bool {
	now := w.now()
	if !w.debug && !limit.last.IsZero() && now.Sub(limit.last) < warningInterval {
		limit.silenced++
		return false
	}
	if limit.silenced > 0 {
		message += fmt.Sprintf(" (%d more delivery problem(s) since the last warning)", limit.silenced)
	}
	limit.last, limit.silenced = now, 0
	w.log().Warn(message)
	return true
}

func (w *deliveryWarnings) log() *slog.Logger {
	if w.logger != nil {
		return w.logger
	}
	return slog.Default()
}
