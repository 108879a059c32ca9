#!/usr/bin/env node
/* global process, console -- a Node script; the repo's eslint config declares no Node globals for .mjs */
/**
 * Every publishable package's `prepack`, run by `npm pack` and `npm publish` in the package's directory:
 * builds it (`tsc -b`, with the packages it references), then removes from `dist/src` what no source file
 * produces any more. `tsc -b` never deletes the output of a renamed or deleted module, and `files` ships all
 * of `dist/src`: without this a tarball packed from a working copy would carry dead modules.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const build = spawnSync(process.execPath, [tsc, '-b'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const outputs = join(process.cwd(), 'dist', 'src');
const sources = join(process.cwd(), 'src');
/** `a/b.js`, `a/b.js.map`, `a/b.d.ts`, `a/b.d.ts.map` all come from `src/a/b.ts`. */
const sourceOf = (output) => join(sources, output.replace(/(\.d\.ts|\.js)(\.map)?$/, '.ts'));

for (const file of readdirSync(outputs, { recursive: true, withFileTypes: true })) {
  if (!file.isFile()) continue;
  const output = relative(outputs, join(file.parentPath, file.name));
  if (!existsSync(sourceOf(output))) {
    rmSync(join(outputs, output));
    console.error(`prepack: removed dist/src/${output} (its source is gone)`);
  }
}
