import { editDistance } from './did-you-mean.js';

// Misspelt RACEWAY_* environment variables (spec 7, Unknown variables): a variable Raceway does
// not read is ignored, so RACEWAY_SERVER_URL would silently leave the default collector URL in
// place. resolveConfig warns about the ones that look like a variable Raceway reads.

/** Every variable of the spec's settings table, read by one SDK or another. */
const SDK_VARIABLES = [
  'RACEWAY_SERVICE_NAME',
  'RACEWAY_ENVIRONMENT',
  'RACEWAY_VERSION',
  'RACEWAY_URL',
  'RACEWAY_API_KEY',
  'RACEWAY_DISABLED',
  'RACEWAY_DEBUG',
  'RACEWAY_INSTANCE',
  'RACEWAY_SAMPLE_RATE',
  'RACEWAY_PROPAGATE_TO',
  'RACEWAY_DB_CAPTURE',
  'RACEWAY_DB_CAPTURE_VALUES',
  'RACEWAY_DIGEST_KEY',
];

/** The collector's variables: often set in the same environment, never a misspelling. */
const COLLECTOR_VARIABLES = new Set(
  [
    'ALLOWED_HOSTS',
    'ANALYSIS_DELAY',
    'API_KEYS',
    'CHECK_RESPONSES',
    'CORS_ORIGINS',
    'HOST',
    'MAX_CLOCK_AHEAD',
    'OTLP_EXPORT_HEADERS',
    'OTLP_EXPORT_URL',
    'PORT',
    'READ_KEYS',
    'RETENTION',
    'STORAGE',
  ].map((name) => `RACEWAY_${name}`),
);

/** A setting's name used as a variable, for the settings whose variable is named otherwise. */
const SETTING_NAMES: Record<string, string> = {
  RACEWAY_SERVER_URL: 'RACEWAY_URL',
  RACEWAY_CAPTURE_QUERIES: 'RACEWAY_DB_CAPTURE',
  RACEWAY_CAPTURE_VALUES: 'RACEWAY_DB_CAPTURE_VALUES',
};

const PREFIX = 'RACEWAY_';

/**
 * `[variable, the variable probably meant]` for each of `names` that looks like a misspelt
 * Raceway variable, sorted by variable.
 *
 * @example
 * misspeltVariables(['RACEWAY_SERVER_URL', 'RACEWAY_PORT', 'PATH']); // [['RACEWAY_SERVER_URL', 'RACEWAY_URL']]
 */
export function misspeltVariables(names: Iterable<string>): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  for (const name of names) {
    if (!name.startsWith(PREFIX) || SDK_VARIABLES.includes(name) || COLLECTOR_VARIABLES.has(name)) {
      continue;
    }
    const meant = SETTING_NAMES[name] ?? closestVariable(name);
    if (meant !== null) found.push([name, meant]);
  }
  return found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The variable whose part after `RACEWAY_` is nearest by edit distance (case-insensitive), if
 * at most max(2, ceil(n / 3)) edits away, n the length of that part of `name`.
 */
function closestVariable(name: string): string | null {
  const wanted = name.slice(PREFIX.length).toLowerCase();
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.ceil(wanted.length / 3)) + 1;
  for (const candidate of SDK_VARIABLES) {
    const distance = editDistance(wanted, candidate.slice(PREFIX.length).toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
