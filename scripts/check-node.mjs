/* global process, URL -- a Node script; the repo's eslint config declares no Node globals for .mjs */
// The repository's Node floor, checked before anything that needs it loads: `npm test`, `npm start` and
// every mocha run (the .mocharc files require this). Plain JavaScript with no imports beyond node:fs, so
// that it runs, and says why it stops, on a Node far older than the floor.
import { readFileSync } from 'node:fs';

const engines = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node;
const floor = /^>=(\d+)\.(\d+)$/.exec(engines);
if (floor === null)
  throw new Error(`package.json engines.node '${engines}' is not of the form >=MAJOR.MINOR`);
const [major, minor] = process.versions.node.split('.').map(Number);
const [needMajor, needMinor] = [Number(floor[1]), Number(floor[2])];
if (major < needMajor || (major === needMajor && minor < needMinor)) {
  process.stderr.write(`Omnibus needs Node >= ${needMajor}.${needMinor}, this is ${process.versions.node}\n`);
  process.exit(1);
}
