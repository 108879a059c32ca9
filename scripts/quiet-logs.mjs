/* global process -- a Node script; the repo's eslint config declares no Node globals for .mjs */
// Tests print nothing unasked: the default logger of every bus and relay a test builds (and of the child
// processes it forks, which inherit the environment) is silent. A test that checks logging sets its own.
process.env.OMNIBUS_LOG_LEVEL ??= 'silent';
