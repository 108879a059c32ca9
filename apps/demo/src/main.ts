// `npm start`: checks the Node floor (the demo's engines) before the demo and Omnibus load, so that an
// older Node gets one line saying why instead of a stack trace from a module it lacks.
import { readFileSync } from 'node:fs';

const engines = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    engines: { node: string };
  }
).engines.node;
const [needMajor = 0, needMinor = 0] = (/^>=(\d+)\.(\d+)$/.exec(engines) ?? []).slice(1).map(Number);
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < needMajor || (major === needMajor && minor < needMinor)) {
  process.stderr.write(`Omnibus needs Node >= ${needMajor}.${needMinor}, this is ${process.versions.node}\n`);
  process.exit(1);
}
// `npm start -- --describe` prints what the services' buses are made of instead of running the demo.
await import(process.argv.includes('--describe') ? './describe-main.js' : './print-demo.js');
