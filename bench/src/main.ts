/**
 * `npm run bench -- <name> [<name>…]` runs the benchmarks named (each `src/<name>.ts` exporting `run`);
 * with no name, lists them. Each prints its own table. Benchmarks, not tests: they assert nothing.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface Benchmark {
  run(args: readonly string[]): Promise<void>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const available = (await readdir(here))
  .filter((file) => file.endsWith('.js') && !['main.js'].includes(file) && !file.startsWith('table'))
  .map((file) => file.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  console.log(`usage: npm run bench -- <name> [options]\nbenchmarks: ${available.join(', ')}`);
  process.exit(name === undefined ? 0 : 2);
}
const benchmark = (await import(`./${name}.js`)) as Benchmark;
await benchmark.run(args);
