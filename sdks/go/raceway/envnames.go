package raceway

import (
	"log/slog"
	"math"
	"os"
	"sort"
	"strings"
)

// Misspelt RACEWAY_* environment variables (spec 7, Unknown variables): a variable Raceway does
// not read is ignored, so RACEWAY_SERVER_URL would silently leave the default collector URL in
// place. New warns about the ones that look like a variable Raceway reads.

// sdkVariables: every variable of the spec's settings table, read by one SDK or another.
var sdkVariables = []string{
	"RACEWAY_SERVICE_NAME", "RACEWAY_ENVIRONMENT", "RACEWAY_VERSION", "RACEWAY_URL", "RACEWAY_API_KEY", "RACEWAY_DISABLED", "RACEWAY_DEBUG",
	"RACEWAY_INSTANCE", "RACEWAY_SAMPLE_RATE", "RACEWAY_PROPAGATE_TO", "RACEWAY_DB_CAPTURE",
	"RACEWAY_DB_CAPTURE_VALUES", "RACEWAY_DIGEST_KEY",
}

// collectorVariables: the collector's, often set in the same environment, never a misspelling.
var collectorVariables = map[string]bool{
	"RACEWAY_ALLOWED_HOSTS": true, "RACEWAY_ANALYSIS_DELAY": true, "RACEWAY_API_KEYS": true,
	"RACEWAY_CHECK_RESPONSES": true, "RACEWAY_CORS_ORIGINS": true, "RACEWAY_HOST": true,
	"RACEWAY_MAX_CLOCK_AHEAD": true, "RACEWAY_OTLP_EXPORT_HEADERS": true, "RACEWAY_OTLP_EXPORT_URL": true, "RACEWAY_PORT": true, "RACEWAY_READ_KEYS": true,
	"RACEWAY_RETENTION": true, "RACEWAY_STORAGE": true,
}

// settingNames: a setting's name used as a variable, for the settings whose variable is named
// otherwise.
var settingNames = map[string]string{
	"RACEWAY_SERVER_URL":      "RACEWAY_URL",
	"RACEWAY_CAPTURE_QUERIES": "RACEWAY_DB_CAPTURE",
	"RACEWAY_CAPTURE_VALUES":  "RACEWAY_DB_CAPTURE_VALUES",
}

// misspeltVariable is a variable set but not read, and the one probably meant.
type misspeltVariable struct{ variable, meant string }

// withEnviron replaces the names of the variables set (os.Environ's) in tests.
func withEnviron(f func() []string) Option { return func(o *options) { o.environ = f } }

// environNames: the names of the variables set.
func environNames(environ func() []string) []string {
	if environ != nil {
		return environ()
	}
	names := []string{}
	for _, entry := range os.Environ() {
		name, _, _ := strings.Cut(entry, "=")
		names = append(names, name)
	}
	return names
}

// misspeltVariables: the variables among names that look like a misspelt Raceway variable,
// sorted by name.
func misspeltVariables(names []string) []misspeltVariable {
	var found []misspeltVariable
	for _, name := range names {
		if !strings.HasPrefix(name, "RACEWAY_") || collectorVariables[name] || isSDKVariable(name) {
			continue
		}
		meant, ok := settingNames[name]
		if !ok {
			meant = closestVariable(name)
		}
		if meant != "" {
			found = append(found, misspeltVariable{name, meant})
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].variable < found[j].variable })
	return found
}

func isSDKVariable(name string) bool {
	for _, known := range sdkVariables {
		if name == known {
			return true
		}
	}
	return false
}

// closestVariable: the variable whose part after RACEWAY_ is nearest by edit distance
// (case-insensitive), if at most max(2, ceil(n/3)) edits away, n the length of that part of
// name; "" when none is.
func closestVariable(name string) string {
	wanted := strings.ToLower(strings.TrimPrefix(name, "RACEWAY_"))
	best, bestDistance := "", max(2, int(math.Ceil(float64(len(wanted))/3)))+1
	for _, candidate := range sdkVariables {
		d := editDistance(wanted, strings.ToLower(strings.TrimPrefix(candidate, "RACEWAY_")))
		if d < bestDistance {
			best, bestDistance = candidate, d
		}
	}
	return best
}

// editDistance is Levenshtein's, with one row of memory: variable names are short.
func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current := make([]int, len(b)+1)
		current[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
		}
		previous = current
	}
	return previous[len(b)]
}

// warnMisspelt logs one warning per misspelt variable, on the client's logger or slog.Default().
func warnMisspelt(cfg config) {
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	for _, m := range cfg.misspelt {
		logger.Warn("raceway: " + m.variable + " is set but not read (did you mean " + m.meant + "?)")
	}
}
