import { parseArgs } from 'node:util';
import pkg from '../package.json' with { type: 'json' };
import { parseDuration, parseMillis, parseOtlpExport, parsePort } from './config.js';
import { RacewayConfigError } from './errors.js';
import { type Collector, startCollector } from './server.js';

const HELP = `Usage: raceway serve [options]

Starts the Raceway collector: ingestion (POST /v1/events, and OTLP/HTTP at POST /v1/traces),
query API (/api), health (/healthz), Prometheus metrics (/metrics).

Options (each also read from the environment variable shown):
  --port <n>            TCP port, 0 for any free port           RACEWAY_PORT       (8080)
  --host <address>      address to listen on                    RACEWAY_HOST       (127.0.0.1)
  --storage <spec>      sqlite:<path> or postgres://...         RACEWAY_STORAGE    (sqlite:./raceway.db)
  --api-key <key>       require this key on ingestion (and on   RACEWAY_API_KEYS   (comma-separated)
                        /api unless read keys are set); repeat
  --read-key <key>      require this key on /api (ingest keys   RACEWAY_READ_KEYS  (comma-separated)
                        then do not read); repeat
  --allowed-host <name> accept this Host besides localhost when RACEWAY_ALLOWED_HOSTS
                        listening on loopback; repeat
  --cors-origin <url>   let this browser origin read answers;   RACEWAY_CORS_ORIGINS
                        repeat (default: no CORS)
  --max-clock-ahead <d> reject events timestamped further ahead RACEWAY_MAX_CLOCK_AHEAD (10m)
                        of this collector's clock
  --retention <d>       keep data this long: 7d, 12h, 30m       RACEWAY_RETENTION  (7d)
  --analysis-delay <ms> analyse a trace once quiet this long    RACEWAY_ANALYSIS_DELAY (1000)
  --analysis-mode <m>   incremental: fold a trace's new events  RACEWAY_ANALYSIS_MODE (incremental)
                        into its kept analysis; full: analyse
                        the whole trace again each time
  --otlp-export <url>   forward stored spans to this OTLP/HTTP  RACEWAY_OTLP_EXPORT_URL
                        traces URL (.../v1/traces)
  --otlp-export-header <key=value>  a header for the export;    RACEWAY_OTLP_EXPORT_HEADERS
                        repeat                                  (comma-separated)
  --public-url <url>    where people open this collector's UI;  RACEWAY_PUBLIC_URL
                        exported races link to it
  --tls-cert <file>     serve HTTPS with this PEM certificate    RACEWAY_TLS_CERT
                        (chain); needs --tls-key; SIGHUP
                        reads both files again
  --tls-key <file>      the certificate's PEM private key       RACEWAY_TLS_KEY
  --log-level <level>   fatal, error, warn, info (every         RACEWAY_LOG_LEVEL  (warn)
                        request), debug, trace or silent
  -h, --help            show this help
  -v, --version         show the version

Exit codes: 0 stopped, 1 failure, 2 bad configuration, 3 the database was migrated by a
newer collector (upgrade this one).
`;

/** Exit code of a bad flag, variable or storage spec. */
const EXIT_CONFIG = 2;
/** Exit code when the database's schema is newer than this collector: upgrading fixes it. */
const EXIT_DATABASE_TOO_NEW = 3;

function configExitCode(error: RacewayConfigError): number {
  return error.code === 'RACEWAY_DATABASE_TOO_NEW' ? EXIT_DATABASE_TOO_NEW : EXIT_CONFIG;
}

function fail(message: string, code = EXIT_CONFIG): never {
  process.stderr.write(`raceway: ${message}\n`);
  process.exit(code);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parseLogLevel(level: string): string {
  if (!LOG_LEVELS.includes(level)) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_LOG_LEVEL',
      `log level "${level}" is not one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  return level;
}

function parseAnalysisMode(mode: string): 'incremental' | 'full' {
  if (mode !== 'incremental' && mode !== 'full') {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_ANALYSIS_MODE',
      `analysis mode "${mode}" is not incremental or full`,
    );
  }
  return mode;
}

function tlsOption(certFile: string | undefined, keyFile: string | undefined) {
  if (certFile === undefined && keyFile === undefined) return {};
  if (!certFile || !keyFile) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_TLS',
      'TLS needs both a certificate and a key: give --tls-cert and --tls-key (or RACEWAY_TLS_CERT and RACEWAY_TLS_KEY)',
    );
  }
  return { tls: { certFile, keyFile } };
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      storage: { type: 'string' },
      'api-key': { type: 'string', multiple: true },
      'read-key': { type: 'string', multiple: true },
      'allowed-host': { type: 'string', multiple: true },
      'cors-origin': { type: 'string', multiple: true },
      'max-clock-ahead': { type: 'string' },
      retention: { type: 'string' },
      'analysis-delay': { type: 'string' },
      'analysis-mode': { type: 'string' },
      'otlp-export': { type: 'string' },
      'otlp-export-header': { type: 'string', multiple: true },
      'public-url': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const env = process.env;
  const retention = values.retention ?? env.RACEWAY_RETENTION ?? '7d';
  const list = (flag: string[] | undefined, variable: string | undefined) =>
    flag ??
    (variable ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '');
  const apiKeys = list(values['api-key'], env.RACEWAY_API_KEYS);
  const readKeys = list(values['read-key'], env.RACEWAY_READ_KEYS);
  const maxClockAhead = values['max-clock-ahead'] ?? env.RACEWAY_MAX_CLOCK_AHEAD;
  const otlpExport = parseOtlpExport(
    values['otlp-export'] ?? env.RACEWAY_OTLP_EXPORT_URL,
    list(values['otlp-export-header'], env.RACEWAY_OTLP_EXPORT_HEADERS),
    values['public-url'] ?? env.RACEWAY_PUBLIC_URL,
  );
  const options = {
    port: parsePort(values.port ?? env.RACEWAY_PORT ?? 8080),
    host: values.host ?? env.RACEWAY_HOST ?? '127.0.0.1',
    storage: values.storage ?? env.RACEWAY_STORAGE ?? 'sqlite:./raceway.db',
    apiKeys,
    readKeys,
    allowedHosts: list(values['allowed-host'], env.RACEWAY_ALLOWED_HOSTS),
    corsOrigins: list(values['cors-origin'], env.RACEWAY_CORS_ORIGINS),
    eventLimits:
      maxClockAhead === undefined
        ? {}
        : { maxClockAheadMs: parseDuration(maxClockAhead, 'max clock ahead') },
    retention: parseDuration(retention, 'retention'),
    analysisDelayMs: parseMillis(
      values['analysis-delay'] ?? env.RACEWAY_ANALYSIS_DELAY ?? 1000,
      'analysis delay',
    ),
    analysisMode: parseAnalysisMode(
      values['analysis-mode'] ?? env.RACEWAY_ANALYSIS_MODE ?? 'incremental',
    ),
    ...(otlpExport ? { otlpExport } : {}),
    ...tlsOption(
      values['tls-cert'] ?? env.RACEWAY_TLS_CERT,
      values['tls-key'] ?? env.RACEWAY_TLS_KEY,
    ),
    // JSON lines on stdout. At `warn` (the default): failures (a storage error, an analysis
    // that threw); at `info`: every request too.
    logger: { level: parseLogLevel(values['log-level'] ?? env.RACEWAY_LOG_LEVEL ?? 'warn') },
  };

  let collector: Collector;
  try {
    collector = await startCollector(options);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err instanceof RacewayConfigError) fail(err.message, configExitCode(err));
    if (err.code === 'EADDRINUSE') {
      fail(`${options.host}:${options.port} is already in use: pick another port with --port`, 1);
    }
    if (err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
      fail(
        `cannot listen on ${options.host}:${options.port} (${err.code}): pick another --host or --port`,
        1,
      );
    }
    fail(`cannot start: ${err.message}`, 1);
  }
  process.stdout.write(
    `raceway collector ${pkg.version} listening on ${collector.url} | data: ${collector.storageDescription} | retention: ${retention}${apiKeys.length ? ` | API keys: ${apiKeys.length}` : ''}${readKeys.length ? ` | read keys: ${readKeys.length}` : ''}\n`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`raceway: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(
      `raceway: ${signal} received, finishing requests in flight and closing storage\n`,
    );
    collector.close().then(
      () => {
        process.stdout.write('raceway: stopped\n');
        process.exit(0);
      },
      (error: Error) => fail(`error while stopping: ${error.message}`, 1),
    );
  };
  process.on('SIGHUP', () => {
    // A renewed certificate: new connections get it, the collector keeps running.
    try {
      collector.reloadTls();
      if (options.tls) process.stdout.write('raceway: SIGHUP received, TLS files read again\n');
    } catch (error) {
      process.stderr.write(
        `raceway: SIGHUP: ${(error as Error).message}; kept the previous ones\n`,
      );
    }
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (command !== 'serve') fail(`unknown command "${command}"; run raceway --help`);
  try {
    await serve(rest);
  } catch (error) {
    if (error instanceof RacewayConfigError) fail(error.message, configExitCode(error));
    if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      fail(`${(error as Error).message}; run raceway serve --help`);
    }
    throw error;
  }
}

void main(process.argv.slice(2));
