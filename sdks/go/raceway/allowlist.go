package raceway

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// internalPrefixes are the addresses of spec 6.1: loopback, private, shared, link-local,
// IPv6 unique local and link-local. An IPv4-mapped IPv6 address is judged as its IPv4 address.
var internalPrefixes = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// internalSuffixes are the name endings of spec 6.1 (`.svc` covers `*.svc.cluster.local`
// through `.local`, and namespaced service names).
var internalSuffixes = []string{".localhost", ".local", ".internal", ".svc"}

// DefaultPropagateTo is the default allow-list of outgoing calls that receive trace headers
// (spec 6.1): loopback, private, shared (100.64.0.0/10) and link-local addresses, IPv6 unique
// local and link-local addresses, `localhost`, single-label names (a Docker or Kubernetes
// service), and names under .localhost, .local, .internal or .svc. Every other host, a public
// one, should not learn trace ids or clocks.
func DefaultPropagateTo(u *url.URL) bool {
	host := hostnameOf(u)
	if host == "" {
		return false
	}
	if addr, ok := parseAddr(host); ok {
		for _, p := range internalPrefixes {
			if p.Contains(addr) {
				return true
			}
		}
		return false
	}
	if host == "localhost" || !strings.Contains(host, ".") {
		return true
	}
	for _, suffix := range internalSuffixes {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// hostnameOf is the URL's host as spec 6 reads it: lowercased, without IPv6 brackets or a
// trailing root dot.
func hostnameOf(u *url.URL) string {
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// portOf is the URL's port, or its scheme's default (80, 443); "" when there is neither.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// parseAddr reads an IP address, IPv4-mapped IPv6 addresses as their IPv4 address.
func parseAddr(s string) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}

// resolvePropagate compiles the allow-list: a function wins, then entries from code, then
// RACEWAY_PROPAGATE_TO, then DefaultPropagateTo (spec 6.2).
func resolvePropagate(f func(*url.URL) bool, patterns []string, env string) (func(*url.URL) bool, error) {
	if f != nil {
		return safeMatch(f), nil
	}
	source := "propagate-to option"
	if patterns == nil {
		patterns, source = strings.Split(env, ","), "RACEWAY_PROPAGATE_TO"
	}
	var matchers []func(*url.URL) bool
	for _, p := range patterns {
		entry := strings.Trim(p, " \t")
		if entry == "" {
			continue // empty entries are ignored; a list of none is unset
		}
		m, err := compileEntry(strings.ToLower(entry))
		if err != nil {
			return nil, configErr("RACEWAY_INVALID_PROPAGATE_TO", "%s entry %q %v", source, entry, err)
		}
		matchers = append(matchers, m)
	}
	if matchers == nil {
		return DefaultPropagateTo, nil
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

// compileEntry reads one entry of spec 6.2: `*`, `*.suffix`, a CIDR range, an address, a
// hostname, or either of the last two with a port (`[v6]:port` for IPv6).
func compileEntry(entry string) (func(*url.URL) bool, error) {
	if strings.ContainsAny(entry, " \t\r\n") {
		return nil, patternError("has a space inside")
	}
	switch {
	case entry == "*":
		return func(*url.URL) bool { return true }, nil
	case strings.HasPrefix(entry, "*."):
		suffix := entry[1:]
		if !isHostname(suffix[1:]) {
			return nil, patternError("is not *.<hostname>")
		}
		return func(u *url.URL) bool { return strings.HasSuffix(hostnameOf(u), suffix) }, nil
	case strings.Contains(entry, "/"):
		prefix, err := netip.ParsePrefix(entry)
		if err != nil {
			return nil, patternError("is not a CIDR range (a path or a scheme is not allowed)")
		}
		prefix = prefix.Masked()
		return func(u *url.URL) bool {
			addr, ok := parseAddr(hostnameOf(u))
			return ok && prefix.Contains(addr)
		}, nil
	}
	host, port := entry, ""
	if strings.HasPrefix(entry, "[") || strings.Count(entry, ":") == 1 {
		h, p, err := net.SplitHostPort(entry)
		if err != nil {
			return nil, patternError("is not host:port or [IPv6]:port")
		}
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 || p != strconv.Itoa(n) {
			return nil, patternError("has a port that is not a number from 0 to 65535")
		}
		host, port = h, p
	}
	host = strings.TrimSuffix(host, ".")
	hostMatches, err := hostMatcher(host)
	if err != nil {
		return nil, err
	}
	return func(u *url.URL) bool {
		return hostMatches(hostnameOf(u)) && (port == "" || portOf(u) == port)
	}, nil
}

// hostMatcher matches an address (whatever its spelling) or a hostname exactly.
func hostMatcher(host string) (func(string) bool, error) {
	if addr, ok := parseAddr(host); ok {
		return func(h string) bool {
			other, ok := parseAddr(h)
			return ok && other == addr
		}, nil
	}
	if !isHostname(host) {
		return nil, patternError("is not a hostname, an address, a CIDR range, *.suffix or *")
	}
	return func(h string) bool { return h == host }, nil
}

// isHostname: dot-separated labels of letters, digits, `-` and `_`, none empty.
func isHostname(s string) bool {
	if s == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(isLowerAlpha(c) || isDigit(c) || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
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
