#!/usr/bin/env node
/* global process, URL -- a Node script; the repo's eslint config declares no Node globals for .mjs/.js */
// A committed entry point, so npm links `omnibus` at install time, before the first build. It checks the
// Node floor (this package's engines) first and loads the CLI only then: on an older Node the CLI's own
// imports (node:sqlite) would fail with a stack trace instead of saying why.
import { readFileSync } from 'node:fs';

const engines = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node;
const [needMajor, needMinor] = /^>=(\d+)\.(\d+)$/.exec(engines).slice(1).map(Number);
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < needMajor || (major === needMajor && minor < needMinor)) {
  process.stderr.write(`Omnibus needs Node >= ${needMajor}.${needMinor}, this is ${process.versions.node}\n`);
  process.exit(1);
}
await import('../dist/src/main.js');
