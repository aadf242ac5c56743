/**
 * The methods a concrete path is served with, from the routes Fastify registered (URL patterns
 * with `:params`), so that a known path asked with another method answers 405 with `Allow`
 * instead of 404.
 *
 * @example
 * const allowedMethods = allowedMethodsOf(routes);
 * allowedMethods('/api/traces/4bf9...'); // ['GET', 'HEAD']
 */
export function allowedMethodsOf(
  routes: ReadonlyArray<{ method: string; url: string }>,
): (path: string) => string[] {
  let compiled: Array<{ method: string; pattern: RegExp }> | null = null;
  return (path) => {
    compiled ??= routes
      .filter((r) => !r.url.includes('*'))
      .map((r) => ({
        method: r.method,
        pattern: new RegExp(
          `^${r.url
            .split('/')
            .map((part) =>
              part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
            )
            .join('/')}$`,
        ),
      }));
    const methods = new Set<string>();
    for (const route of compiled) {
      if (route.pattern.test(path)) {
        methods.add(route.method);
        if (route.method === 'GET') methods.add('HEAD');
      }
    }
    return [...methods].sort();
  };
}
