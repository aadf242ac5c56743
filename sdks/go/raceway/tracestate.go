package raceway

import "strings"

const (
	maxTracestateMembers = 32
	maxTracestateLength  = 512
)

// parseTracestate validates and normalises tracestate (spec 2.3): copies joined with `,`,
// members trimmed, empty members dropped, joined with `,`. A repeated key keeps its first
// (leftmost) member; the later ones are still validated, then dropped. More than 32 members or
// more than 512 characters (both after duplicates are dropped), or an invalid member,
// invalidate the whole value. An empty result is ("", true).
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
		eq := strings.IndexByte(member, '=')
		if eq < 0 {
			return "", false
		}
		key, value := member[:eq], member[eq+1:]
		if !isTracestateKey(key) || !isTracestateValue(value) {
			return "", false
		}
		if _, dup := keys[key]; dup {
			continue
		}
		keys[key] = struct{}{}
		if len(members) > 0 {
			length++
		}
		length += len(member)
		if len(members) == maxTracestateMembers || length > maxTracestateLength {
			return "", false
		}
		members = append(members, member)
	}
	return strings.Join(members, ","), true
}

// isTracestateKey is W3C Trace Context level 2: `[a-z0-9][a-z0-9_\-*/@]{0,255}`.
func isTracestateKey(key string) bool {
	if len(key) == 0 || len(key) > 256 || !isLowerAlpha(key[0]) && !isDigit(key[0]) {
		return false
	}
	for i := 1; i < len(key); i++ {
		c := key[i]
		if !isLowerAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '*' && c != '/' && c != '@' {
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
