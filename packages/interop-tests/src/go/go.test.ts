// TypeScript and Go services calling each other over real HTTP, reporting to a real collector
// (the suite is in ../shared/interop-suite.ts).
import { fileURLToPath } from 'node:url';
import { startForeignService } from '../shared/foreign-service.js';
import { describeInterop } from '../shared/interop-suite.js';

/** The Go interop service (`sdks/go/internal/cmd/raceway-interop`). */
const GO_SERVICE = {
  language: 'Go',
  executable: fileURLToPath(new URL('../../../../sdks/go/bin/raceway-interop', import.meta.url)),
  setup: 'bash sdks/go/scripts/test.sh',
};

describeInterop({
  language: 'Go',
  prefix: 'go',
  routeSource: 'the ServeMux pattern',
  start: (name, collectorUrl, env) => startForeignService(GO_SERVICE, name, collectorUrl, env),
});
