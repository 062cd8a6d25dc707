-- The extension installs into its own schema and reports what was built.
BEGIN;
SELECT plan(9);

SELECT has_extension('healthml', 'healthml is installed');
SELECT is((SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
           WHERE e.extname = 'healthml'), 'healthml', 'its objects live in schema healthml');
SELECT has_function('healthml', 'version', ARRAY[]::name[], 'healthml.version() exists');
SELECT is(jsonb_typeof(healthml.version()), 'object', 'version() is a jsonb object');
SELECT ok(healthml.version() ?& ARRAY['version', 'commit', 'profile'], 'version() names version, commit and profile');
SELECT is(healthml.version() ->> 'version',
          (SELECT extversion FROM pg_extension WHERE extname = 'healthml'),
          'the library and the installed SQL are the same version');
SELECT is(healthml.version() ->> 'profile', 'release', 'the tests run the release build');
SELECT matches(healthml.version() ->> 'commit', '^([0-9a-f]{12}|unknown)$', 'commit is a short git hash');
SELECT volatility_is('healthml', 'version', ARRAY[]::name[], 'immutable', 'version() is immutable');

SELECT * FROM finish();
ROLLBACK;
