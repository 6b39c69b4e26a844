// Builds temperature_plugin.js into a WebAssembly component for capsock's
// world `capsock:sockets/sandbox` with ComponentizeJS.
//
//     node build.mjs [OUT.wasm]     (default: temperature_plugin.wasm here)
//     npm run build [-- OUT.wasm]   (the same)
//
// The JS source and ../../wit are found relative to this file, and OUT
// relative to the directory the command was started in, so it runs from
// anywhere: `node examples/js/build.mjs target/js/plugin.wasm` from the
// repository root.
//
// ComponentizeJS is imported from ./node_modules (`npm ci` here), or else
// from the node_modules directory named by NODE_PATH, so that it can be
// installed outside the source tree:
//
//     mkdir -p target/js && cp examples/js/package*.json target/js/
//     npm ci --prefix target/js
//     NODE_PATH=target/js/node_modules node examples/js/build.mjs target/js/temperature_plugin.wasm
//
// (Node's ES module loader ignores NODE_PATH: this script reads it itself.)
//
// The same build with the command-line tool (the source must come before
// `-d`, which takes several values):
//
//     componentize-js temperature_plugin.js --wit ../../wit \
//       --world-name capsock:sockets/sandbox -d http fetch-event \
//       -o temperature_plugin.wasm

import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const PACKAGE = '@bytecodealliance/componentize-js';

const args = process.argv.slice(2);
if (args.length > 1 || args[0]?.startsWith('-')) {
  console.error('usage: node build.mjs [OUT.wasm]');
  process.exit(2);
}
// Under this package's `npm run build`, the working directory is this one;
// INIT_CWD is where npm was started.
const underNpm = process.env.npm_package_name === 'capsock-temperature-plugin-js';
const start = (underNpm && process.env.INIT_CWD) || process.cwd();
const out = args[0] ? resolve(start, args[0]) : join(here, 'temperature_plugin.wasm');

const { componentize, version } = await loadComponentize();

// ComponentizeJS records the source's path relative to the working
// directory (it shows in stack traces): make it `temperature_plugin.js`.
process.chdir(here);

const started = performance.now();
const { component } = await componentize({
  sourcePath: 'temperature_plugin.js',
  witPath: join(here, '..', '..', 'wit'),
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
    // Not found at all (a missing dependency of it is another error).
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !e.message.includes(`'${PACKAGE}'`)) throw e;
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
