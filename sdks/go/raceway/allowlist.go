package raceway

import (
	"net"
	"net/url"
	"strings"
)

// DefaultPropagateTo is the default allow-list of outgoing calls that receive trace headers:
// true for hosts that are almost certainly part of the same system, false for third parties,
// which should not learn trace ids or clocks. Internal means loopback (localhost, *.localhost,
// 127.0.0.0/8, ::1), single-label hostnames (service names as in Docker or Kubernetes),
// *.local, *.internal, and the private IPv4 ranges 10/8, 172.16/12 and 192.168/16.
func DefaultPropagateTo(u *url.URL) bool {
	host := hostnameOf(u)
	switch {
	case host == "":
		return false
	case host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "::1":
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		v4 := ip.To4()
		if v4 == nil || strings.Contains(host, ":") {
			// Any other IPv6 literal is treated as public: nothing in the address says otherwise.
			return false
		}
		return v4[0] == 127 || v4[0] == 10 || v4[0] == 172 && v4[1] >= 16 && v4[1] <= 31 ||
			v4[0] == 192 && v4[1] == 168
	}
	if !strings.Contains(host, ".") {
		return true
	}
	return strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal")
}

// hostnameOf is the URL's hostname in lower case, without brackets or a trailing root dot.
func hostnameOf(u *url.URL) string {
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// resolvePropagate compiles the allow-list: a function wins, then patterns from code, then
// RACEWAY_PROPAGATE_TO, then DefaultPropagateTo.
func resolvePropagate(f func(*url.URL) bool, patterns []string, env string) (func(*url.URL) bool, error) {
	if f != nil {
		return safeMatch(f), nil
	}
	if patterns == nil && strings.TrimSpace(env) != "" {
		patterns = strings.Split(env, ",")
		for i := range patterns {
			patterns[i] = strings.TrimSpace(patterns[i])
		}
	}
	if patterns == nil {
		return DefaultPropagateTo, nil
	}
	matchers := make([]func(*url.URL) bool, 0, len(patterns))
	for i, p := range patterns {
		m, err := compilePattern(p)
		if err != nil {
			return nil, configErr("RACEWAY_INVALID_PROPAGATE_TO", "propagate-to entry %d (%q): %v", i, p, err)
		}
		matchers = append(matchers, m)
	}
	return func(u *url.URL) bool {
		for _, m := range matchers {
			if m(u) {
				return true
			}
		}
		return false
	}, nil
}

type patternError string

func (e patternError) Error() string { return string(e) }

// compilePattern reads one allow-list entry: an origin, a `*.suffix` wildcard, a hostname or
// `host:port`.
func compilePattern(entry string) (func(*url.URL) bool, error) {
	if entry == "" || strings.ContainsAny(entry, " \t\r\n") {
		return nil, patternError("must be a non-empty hostname, host:port, *.suffix or origin")
	}
	pattern := strings.ToLower(entry)
	if strings.Contains(pattern, "://") {
		o, err := url.Parse(pattern)
		if err != nil || o.Host == "" || (o.Path != "" && o.Path != "/") || o.RawQuery != "" {
			return nil, patternError("is not a valid origin")
		}
		origin := originOf(o)
		return func(u *url.URL) bool { return originOf(u) == origin }, nil
	}
	if strings.HasPrefix(pattern, "*.") {
		suffix := pattern[1:]
		return func(u *url.URL) bool { return strings.HasSuffix(hostnameOf(u), suffix) }, nil
	}
	return func(u *url.URL) bool {
		return hostnameOf(u) == pattern || strings.ToLower(u.Host) == pattern
	}, nil
}

// originOf is scheme://host[:port] with the scheme's default port left out, as WHATWG does.
func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port != "" && !(scheme == "http" && port == "80" || scheme == "https" && port == "443") {
		host += ":" + port
	}
	return scheme + "://" + host
}

// safeMatch keeps a user predicate that panics from breaking the outgoing call: no headers.
func safeMatch(f func(*url.URL) bool) func(*url.URL) bool {
	return func(u *url.URL) (ok bool) {
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		return f(u)
	}
}

// compileIgnorePaths makes the predicate of WithIgnorePaths: a path matches an entry exactly
// or as a whole-segment prefix.
func compileIgnorePaths(entries []string) (func(string) bool, error) {
	for i, e := range entries {
		if !strings.HasPrefix(e, "/") {
			return nil, configErr("RACEWAY_INVALID_IGNORE_PATHS", "ignore path %d (%q) must start with \"/\"", i, e)
		}
	}
	paths := append([]string(nil), entries...)
	return func(path string) bool {
		for _, e := range paths {
			prefix := e
			if !strings.HasSuffix(prefix, "/") {
				prefix += "/"
			}
			if path == e || strings.HasPrefix(path, prefix) {
				return true
			}
		}
		return false
	}, nil
}
