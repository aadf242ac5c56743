import { RacewayConfigError } from '../errors.js';
import { compilePropagateTo, type PropagateToOption } from '../url-filters.js';

/** Options shared by the client instrumentations (`@raceway/fetch`, `@raceway/axios`). */
export interface ClientInstrumentationOptions {
  /**
   * Which targets receive trace headers. Default: the `propagateTo` of the tracer whose context
   * makes the call (itself defaulting to internal hosts, see `defaultPropagateTo`). Calls are
   * recorded either way.
   */
  propagateTo?: PropagateToOption;
}

/**
 * Compiles a client instrumentation's `propagateTo` option; `undefined` when not given (the
 * tracer decides). Throws a `RacewayConfigError` (`RACEWAY_INVALID_PROPAGATE_TO`) for a bad
 * entry, when the instrumentation is installed, never per call.
 *
 * @example
 * const propagateTo = compileClientPropagateTo(['inventory', '*.svc.cluster.local']);
 * startClientCall({ method: 'GET', url, propagateTo });
 */
export function compileClientPropagateTo(
  option: PropagateToOption | undefined,
): ((url: URL) => boolean) | undefined {
  if (option === undefined) return undefined;
  try {
    return compilePropagateTo(option);
  } catch (error) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_PROPAGATE_TO',
      `propagateTo ${(error as Error).message}`,
    );
  }
}
