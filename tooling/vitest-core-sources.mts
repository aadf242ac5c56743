import { fileURLToPath } from 'node:url';

const core = (entry: string) =>
  fileURLToPath(new URL(`../packages/core/src/${entry}.ts`, import.meta.url));

/**
 * `resolve.alias` for a package whose tests run against the sources of @raceway/core, as the
 * propagation suites do: the tests see core as it is now, without a build in between (the root
 * `pnpm test` also checks the built packages). Test helpers of core (packages/core/test/helpers)
 * import its sources too, so both see the same modules.
 */
export function coreSourceAliases() {
  return [
    { find: /^@raceway\/core$/, replacement: core('index') },
    { find: /^@raceway\/core\/integration$/, replacement: core('integration') },
  ];
}
