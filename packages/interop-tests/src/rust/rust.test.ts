// TypeScript and Rust services calling each other over real HTTP, reporting to a real collector
// (the suite is in ../shared/interop-suite.ts).
import { fileURLToPath } from 'node:url';
import { startForeignService } from '../shared/foreign-service.js';
import { describeInterop } from '../shared/interop-suite.js';

/** The Rust interop service (`sdks/rust/examples/interop_service.rs`). */
const RUST_SERVICE = {
  language: 'Rust',
  executable: fileURLToPath(
    new URL('../../../../sdks/rust/target/debug/examples/interop_service', import.meta.url),
  ),
  setup: 'bash sdks/rust/scripts/test.sh',
};

describeInterop({
  language: 'Rust',
  prefix: 'rust',
  routeSource: "axum's MatchedPath",
  start: (name, collectorUrl, env) => startForeignService(RUST_SERVICE, name, collectorUrl, env),
});
