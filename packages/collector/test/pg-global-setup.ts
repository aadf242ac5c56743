import type { TestProject } from 'vitest/node';
import { findPgBin, PgCluster } from './pg-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the PostgreSQL used by the tests, or null when there is none. */
    pgUrl: string | null;
    /** Why there is no PostgreSQL (shown by the skipped suite). */
    pgSkipReason: string;
  }
}

/**
 * Gives the PostgreSQL storage suite a server: RACEWAY_TEST_PG_URL when set, otherwise a
 * throwaway cluster (see PgCluster) stopped after the run. Without any PostgreSQL the suite is
 * skipped with the reason, unless RACEWAY_REQUIRE_PG=1.
 */
export default async function setup(project: TestProject) {
  if (process.env.RACEWAY_TEST_PG_URL) {
    project.provide('pgUrl', process.env.RACEWAY_TEST_PG_URL);
    project.provide('pgSkipReason', '');
    return;
  }
  const bin = findPgBin();
  if (!bin) {
    const reason =
      'no PostgreSQL found (no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH, and RACEWAY_TEST_PG_URL is not set)';
    if (process.env.RACEWAY_REQUIRE_PG === '1')
      throw new Error(`RACEWAY_REQUIRE_PG=1 but ${reason}`);
    project.provide('pgUrl', null);
    project.provide('pgSkipReason', reason);
    return;
  }

  let cluster: PgCluster;
  try {
    cluster = await PgCluster.create(bin);
  } catch (error) {
    if (process.env.RACEWAY_REQUIRE_PG === '1') throw error;
    project.provide('pgUrl', null);
    project.provide(
      'pgSkipReason',
      `could not start a PostgreSQL cluster: ${(error as Error).message}`,
    );
    return;
  }
  project.provide('pgUrl', cluster.url);
  project.provide('pgSkipReason', '');

  return () => {
    try {
      cluster.stop('immediate');
    } finally {
      cluster.remove();
    }
  };
}
