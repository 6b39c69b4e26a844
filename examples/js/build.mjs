// Builds temperature_plugin.js into a WebAssembly component for capsock's
// world `capsock:sockets/sandbox` with ComponentizeJS.
//
//     node build.mjs [OUT.wasm]        (default: temperature_plugin.wasm here)
//
// Paths in this script are relative to this file, not to the working
// directory, so it can run from anywhere: `node examples/js/build.mjs
// target/js/temperature_plugin.wasm` from the repository root works.
//
// Where ComponentizeJS comes from: an `npm ci` in this directory
// (./node_modules), or one elsewhere named by NODE_PATH, e.g.
//
//     npm ci --prefix target/js-deps examples/js     # no: see README.md
//     NODE_PATH=target/js-deps/node_modules node examples/js/build.mjs OUT.wasm
//
// NODE_PATH is honoured here by hand: Node's ES module loader ignores it.

import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const PACKAGE = '@bytecodealliance/componentize-js';

const out = resolve(process.argv[2] ?? join(here, 'temperature_plugin.wasm'));
if (process.argv.length > 3 || out.endsWith('.js')) {
  console.error('usage: node build.mjs [OUT.wasm]');
  process.exit(2);
}

const { componentize, version } = await loadComponentize();

const started = performance.now();
const { component } = await componentize({
  sourcePath: join(here, 'temperature_plugin.js'),
  witPath: resolve(here, '../../wit'),
  worldName: 'capsock:sockets/sandbox',
  // The engine's default features include outgoing HTTP (`fetch`) and
  // incoming HTTP (`fetch-event`), which would make the component import
  // wasi:http, which capsock does not provide. The remaining features
  // (stdio, random, clocks) only use interfaces of wasi:cli/command.
  disableFeatures: ['http', 'fetch-event'],
});
await mkdir(dirname(out), { recursive: true });
await writeFile(out, component);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `componentize-js ${version}: wrote ${out} (${component.length} bytes) in ${seconds} s`,
);

/** Imports ComponentizeJS from the usual places, then from NODE_PATH. */
async function loadComponentize() {
  try {
    return await import(PACKAGE);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e;
  }
  for (const dir of (process.env.NODE_PATH ?? '').split(delimiter)) {
    const pkgDir = resolve(dir || '.', PACKAGE);
    const manifest = join(pkgDir, 'package.json');
    if (!dir || !existsSync(manifest)) continue;
    const { exports } = JSON.parse(await readFile(manifest, 'utf8'));
    const entry = typeof exports === 'string' ? exports : exports.import;
    return await import(pathToFileURL(join(pkgDir, entry)).href);
  }
  console.error(
    `cannot find ${PACKAGE}: run \`npm ci\` in ${here}, or install it ` +
      'elsewhere and set NODE_PATH to that node_modules directory',
  );
  process.exit(1);
}
