// The PostgreSQL of these tests: the collector's global setup, reused as is. RACEWAY_TEST_PG_URL
// when set, otherwise a throwaway cluster (initdb + pg_ctl) stopped after the run; without any
// PostgreSQL the suite is skipped with the reason, unless RACEWAY_REQUIRE_PG=1.
export { default } from '../../collector/test/pg-global-setup.js';
