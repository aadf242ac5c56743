package raceway

import "strings"

const (
	maxTracestateMembers = 32
	maxTracestateLength  = 512
)

// parseTracestate validates and normalises tracestate (spec 2.3): copies joined with `,`,
// members trimmed, empty members dropped, joined with `,`. More than 32 members, more than 512
// characters, an invalid member or a key present twice invalidate the whole value. An empty
// result is ("", true).
func parseTracestate(copies []string) (string, bool) {
	joined := strings.Join(copies, ",")
	var members []string
	keys := make(map[string]struct{})
	length := 0
	for _, part := range strings.Split(joined, ",") {
		member := trimOWS(part)
		if member == "" {
			continue
		}
		if len(members) > 0 {
			length++
		}
		length += len(member)
		if len(members) == maxTracestateMembers || length > maxTracestateLength {
			return "", false
		}
		eq := strings.IndexByte(member, '=')
		if eq < 0 {
			return "", false
		}
		key, value := member[:eq], member[eq+1:]
		if !isTracestateKey(key) || !isTracestateValue(value) {
			return "", false
		}
		if _, dup := keys[key]; dup {
			return "", false
		}
		keys[key] = struct{}{}
		members = append(members, member)
	}
	return strings.Join(members, ","), true
}

// isTracestateKey: `[a-z][a-z0-9_\-*/]{0,255}` or
// `[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}`.
func isTracestateKey(key string) bool {
	at := strings.IndexByte(key, '@')
	if at < 0 {
		return len(key) >= 1 && len(key) <= 256 && isLowerAlpha(key[0]) && allKeyChars(key[1:])
	}
	tenant, system := key[:at], key[at+1:]
	return len(tenant) >= 1 && len(tenant) <= 241 &&
		(isLowerAlpha(tenant[0]) || isDigit(tenant[0])) && allKeyChars(tenant[1:]) &&
		len(system) >= 1 && len(system) <= 14 && isLowerAlpha(system[0]) && allKeyChars(system[1:])
}

func allKeyChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLowerAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '*' && c != '/' {
			return false
		}
	}
	return true
}

// isTracestateValue: 1..256 printable ASCII characters except `,` and `=`, not ending in a space.
func isTracestateValue(v string) bool {
	if len(v) == 0 || len(v) > 256 || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

func isLowerAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
