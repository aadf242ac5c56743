package raceway

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// OpenTelemetry's OTEL_RESOURCE_ATTRIBUTES (spec 7 e): a service traced by both Raceway and
// OpenTelemetry is configured once, so Raceway takes its environment and version from there
// when its own settings leave them out.

// otelResourceAttributes parses OTEL_RESOURCE_ATTRIBUTES (`key=value` items, comma-separated,
// values percent-encoded). ok is false when it is unset or malformed: OpenTelemetry then
// discards the whole value, and so does Raceway (never an error: it is not Raceway's variable).
func otelResourceAttributes(value string) (attributes map[string]string, ok bool) {
	attributes = map[string]string{}
	for _, item := range strings.Split(value, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		key, raw, found := strings.Cut(item, "=")
		key = strings.TrimSpace(key)
		if !found || key == "" {
			return nil, false
		}
		decoded, err := url.PathUnescape(strings.TrimSpace(raw))
		if err != nil || !utf8.ValidString(decoded) {
			return nil, false
		}
		attributes[key] = decoded
	}
	return attributes, true
}

// otelEnvironment is the deployment environment OpenTelemetry's resource names:
// deployment.environment.name (current semantic conventions), else the older
// deployment.environment.
func otelEnvironment(attributes map[string]string) string {
	if name, ok := attributes["deployment.environment.name"]; ok {
		return name
	}
	return attributes["deployment.environment"]
}

// otelServiceVersion is the service version OpenTelemetry's resource names (service.version).
func otelServiceVersion(attributes map[string]string) string {
	return attributes["service.version"]
}

// resolveResourceName: the option, else Raceway's variable, else OpenTelemetry's resource
// attribute (spec 7 e). The first two are refused when they break the name rules;
// OpenTelemetry's value is then ignored instead (never an error).
func resolveResourceName(option *string, optionName, env, envName, otelValue, code string) (string, error) {
	if option != nil {
		return validName(*option, optionName, code)
	}
	if strings.TrimSpace(env) != "" {
		return validName(env, envName, code)
	}
	if name, err := validName(otelValue, "", code); err == nil {
		return name, nil
	}
	return "", nil
}
