// TypeScript and Python services calling each other over real HTTP, reporting to a real
// collector (the suite is in ../shared/interop-suite.ts), on both Python stacks: Flask (WSGI)
// with requests, and FastAPI (ASGI) with httpx.
import { fileURLToPath } from 'node:url';
import { startForeignService } from '../shared/foreign-service.js';
import { describeInterop } from '../shared/interop-suite.js';

/** The Python SDK's virtualenv, made by `sdks/python/scripts/test.sh`. */
const PYTHON = fileURLToPath(new URL('../../../../sdks/python/.venv/bin/python', import.meta.url));
const SERVICE_SCRIPT = fileURLToPath(new URL('./service.py', import.meta.url));

for (const framework of ['flask', 'fastapi']) {
  const service = {
    language: 'Python',
    executable: PYTHON,
    args: [SERVICE_SCRIPT],
    setup: 'bash sdks/python/scripts/test.sh',
    env: { RACEWAY_INTEROP_FRAMEWORK: framework, PYTHONUNBUFFERED: '1' },
  };
  describeInterop({
    language: `Python (${framework})`,
    prefix: 'py',
    routeSource: `${framework}'s router`,
    start: (name, collectorUrl, env) => startForeignService(service, name, collectorUrl, env),
  });
}
