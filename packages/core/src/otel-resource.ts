// OpenTelemetry's OTEL_RESOURCE_ATTRIBUTES (spec 7 e): a service traced by both Raceway and
// OpenTelemetry is configured once, so Raceway takes its environment and version from there
// when its own settings leave them out.

/**
 * The attributes of `OTEL_RESOURCE_ATTRIBUTES` (`key=value` items, comma-separated, values
 * percent-encoded), or null when it is unset or malformed: OpenTelemetry then discards the
 * whole value, and so does Raceway (never an error: it is not Raceway's variable).
 *
 * @example
 * otelResourceAttributes('service.version=1.2, deployment.environment.name=prod');
 * // Map { 'service.version' => '1.2', 'deployment.environment.name' => 'prod' }
 */
export function otelResourceAttributes(value: string | undefined): Map<string, string> | null {
  if (value === undefined) return null;
  const attributes = new Map<string, string>();
  for (const item of value.split(',')) {
    if (item.trim() === '') continue;
    const equals = item.indexOf('=');
    if (equals === -1) return null;
    const key = item.slice(0, equals).trim();
    if (key === '') return null;
    let decoded: string;
    try {
      decoded = decodeURIComponent(item.slice(equals + 1).trim());
    } catch {
      return null;
    }
    attributes.set(key, decoded);
  }
  return attributes;
}

/**
 * The deployment environment OpenTelemetry's resource names: `deployment.environment.name`
 * (current semantic conventions), else the older `deployment.environment`.
 */
export function otelEnvironment(
  attributes: ReadonlyMap<string, string> | null,
): string | undefined {
  return (
    attributes?.get('deployment.environment.name') ?? attributes?.get('deployment.environment')
  );
}

/** The service version OpenTelemetry's resource names (`service.version`). */
export function otelServiceVersion(
  attributes: ReadonlyMap<string, string> | null,
): string | undefined {
  return attributes?.get('service.version');
}
