#!/usr/bin/env node
/* global process, console, URL -- a Node script; the repo's eslint config declares no Node globals for .mjs */
/**
 * Part of `npm run lint`: every ```ts block of README.md, docs/*.md and each package's README.md (or of
 * the markdown files given as arguments) compiles, against the built workspace packages, with the
 * tsconfig a user of Omnibus needs (docs/getting-started.md shows it). Each block is its own module in a scratch project under .cache/;
 * errors are reported at the markdown line they come from. Run `npm run build` first.
 *
 * Info strings:
 *   ```ts                      a complete module: compiled on its own
 *   ```ts continued            appended to the previous block of the same file (a guide built step by step)
 *   ```ts fragment: <reason>   not compiled; the reason is required (e.g. an options object on its own)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The compiler options a user's project needs for Omnibus: ESM, strict, legacy decorators. */
export const userCompilerOptions = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  strict: true,
  experimentalDecorators: true,
  skipLibCheck: true,
  noEmit: true,
  types: ['node'],
};

/** The ```ts blocks of one markdown file, joined where marked `continued`, with their line numbers. */
export function extractSamples(file, text) {
  const samples = [];
  const problems = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```ts\b(.*)$/.exec(lines[i]);
    if (fence === null) continue;
    const info = fence[1].trim();
    const body = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j].startsWith('```'); j++) body.push({ text: lines[j], line: j + 1 });
    if (info.startsWith('fragment')) {
      if (!/^fragment:\s*\S/.test(info))
        problems.push(`${file}:${i + 1}: a ts fragment must say why (\`\`\`ts fragment: <reason>)`);
    } else if (info === 'continued') {
      if (samples.length === 0) problems.push(`${file}:${i + 1}: \`\`\`ts continued with no block before it`);
      else samples[samples.length - 1].lines.push(...body);
    } else if (info === '') {
      samples.push({ file, line: i + 1, lines: body });
    } else {
      problems.push(`${file}:${i + 1}: unknown ts block marker '${info}' (continued, fragment: <reason>)`);
    }
    i = j;
  }
  return { samples, problems };
}

function defaultFiles() {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(root, 'docs', name));
  const packageReadmes = readdirSync(join(root, 'packages'))
    .sort()
    .filter((name) => readdirSync(join(root, 'packages', name)).includes('README.md'))
    .map((name) => join(root, 'packages', name, 'README.md'));
  return [join(root, 'README.md'), ...docs, ...packageReadmes];
}

const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => resolve(f)) : defaultFiles();
const problems = [];
const samples = [];
for (const file of files) {
  const found = extractSamples(relative(root, file), readFileSync(file, 'utf8'));
  problems.push(...found.problems);
  samples.push(...found.samples);
}

mkdirSync(join(root, '.cache'), { recursive: true });
const scratch = mkdtempSync(join(root, '.cache', 'doc-samples-'));
try {
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const sources = new Map();
  samples.forEach((sample, n) => {
    const name = `${String(n).padStart(3, '0')}-${basename(sample.file, '.md')}.ts`;
    // `export {}` keeps every sample a module of its own, even one without imports.
    writeFileSync(join(scratch, name), `${sample.lines.map((l) => l.text).join('\n')}\nexport {};\n`);
    sources.set(name, sample);
  });
  writeFileSync(
    join(scratch, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: userCompilerOptions, include: ['*.ts'] }),
  );
  if (samples.length > 0) {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', scratch, '--pretty', 'false'], {
      cwd: scratch,
      encoding: 'utf8',
    });
    for (const message of `${result.stdout}${result.stderr}`.split('\n').filter(Boolean)) {
      const at = /^(\d{3}-[^(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(message);
      const sample = at === null ? undefined : sources.get(at[1]);
      const line = sample?.lines[Number(at[2]) - 1]?.line;
      problems.push(line === undefined ? message : `${sample.file}:${line}:${at[3]}: ${at[4]}`);
    }
    if (result.status !== 0 && problems.length === 0) problems.push(`tsc exited with ${result.status}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  console.error(`doc samples: ${problems.length} problem(s) in ${samples.length} ts block(s)`);
  process.exit(1);
}
console.log(`doc samples: ${samples.length} ts block(s) of ${files.length} markdown file(s) compile`);
