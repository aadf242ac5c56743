// TypeScript and Python services calling each other over real HTTP, reporting to a real
// collector (the suite is in ../shared/interop-suite.ts), on every Python stack: Flask (WSGI)
// with a traced requests session, FastAPI (ASGI) with httpx on Raceway's transport, aiohttp
// (server middleware and client TraceConfig), and Flask and FastAPI again with plain clients
// (module-level `requests.get`, a plain `httpx.AsyncClient`) traced by `instrument()`.
import { fileURLToPath } from 'node:url';
import { startForeignService } from '../shared/foreign-service.js';
import { describeInterop } from '../shared/interop-suite.js';

/** The Python SDK's virtualenv, made by `sdks/python/scripts/test.sh`. */
const PYTHON = fileURLToPath(new URL('../../../../sdks/python/.venv/bin/python', import.meta.url));
const SERVICE_SCRIPT = fileURLToPath(new URL('./service.py', import.meta.url));

const STACKS = [
  { framework: 'flask', clients: 'own' },
  { framework: 'fastapi', clients: 'own' },
  { framework: 'aiohttp', clients: 'own' },
  { framework: 'flask', clients: 'global' },
  { framework: 'fastapi', clients: 'global' },
];

for (const { framework, clients } of STACKS) {
  const service = {
    language: 'Python',
    executable: PYTHON,
    args: [SERVICE_SCRIPT],
    setup: 'bash sdks/python/scripts/test.sh',
    env: {
      RACEWAY_INTEROP_FRAMEWORK: framework,
      RACEWAY_INTEROP_CLIENTS: clients,
      PYTHONUNBUFFERED: '1',
    },
  };
  describeInterop({
    language: `Python (${framework}${clients === 'global' ? ', instrument()' : ''})`,
    prefix: 'py',
    routeSource: `${framework}'s router`,
    start: (name, collectorUrl, env) => startForeignService(service, name, collectorUrl, env),
  });
}
