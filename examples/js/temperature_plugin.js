// The temperature plugin of `capsock demo`, written in JavaScript.
//
// It mirrors examples/guests/src/bin/temperature_plugin.rs: a sandboxed
// program with no filesystem access that receives two open temperature
// logs from a broker over a Unix socket, reads them through the handles
// it was given, and sends a report back.
//
// Build it into a WebAssembly component with ComponentizeJS (see
// README.md beside this file), then run it with, for example:
//
//     capsock run --unix-connect broker=/tmp/broker.sock temperature_plugin.wasm
//
// How WIT looks from JavaScript (ComponentizeJS bindings):
// - Each WIT interface is an ES module named `package/interface@version`;
//   functions and resources are its exports, in camelCase
//   (`recv-msg` -> `recvMsg`, resource `socket` -> class `Socket`).
// - A function returning `result<T, error-code>` returns T on success and
//   throws on error; the error code (a string such as "would-block") is in
//   the exception's `payload` property.
// - WIT `u64` and `s64` are JavaScript BigInt (`1024n`), both ways: values
//   that come back (byte counts, `cmsg-space`) are BigInt, and must be
//   turned into a Number before ordinary arithmetic with Numbers. Arguments
//   accept a Number too (the bindings call `BigInt(x)`), but only an
//   integer one: `BigInt(1.5)` throws.
// - `list<u8>` is a Uint8Array; enums are their WIT names as strings
//   ("send", "would-block"); variants are `{ tag: "rights", val: [...] }`
//   with the WIT case name as tag; records and flags are objects whose keys
//   are camelCase (`{ dontWait: true }`; a missing flag is off); `option`
//   is the value or `undefined`.
// - Resources (`descriptor`, `socket`) are objects holding a handle. Drop
//   a handle you no longer need with `handle[Symbol.dispose]()`: that
//   closes the host's file descriptor. Do not count on the garbage
//   collector: the bindings stop tracking a handle for collection once it
//   has been passed to any call (a method call included), so such a handle
//   stays open, and counts against the host's handle limit, until disposed
//   or until the program ends.

import { take } from 'capsock:sockets/preopens@0.1.0';
import { Socket, cmsgSpace } from 'capsock:sockets/sockets@0.1.0';

// The engine may predate `Symbol.dispose`; the bindings then fall back to
// `Symbol.for('dispose')`, and so do we.
const dispose = Symbol.dispose ?? Symbol.for('dispose');

/** The most bytes of data one message may bring (as the Rust plugin). */
const MAX_DATA = 1024n; // BigInt: recv-msg's `max-data` is a u64.
/** The most file descriptors one message may bring. */
const MAX_FDS = 8n;
/** The size of one file descriptor in an SCM_RIGHTS item (a C int). */
const FD_SIZE = 4n;
/** How much to ask `descriptor.read` for at a time. */
const READ_CHUNK = 64n * 1024n; // BigInt: `read`'s `len` is a u64.

// wasi:cli/run: the export a command runs. Returning normally is exit
// status 0; throwing makes `run` return an error: exit status 1, without
// a word on stderr, hence the `catch` that prints it first.
export const run = {
  run() {
    try {
      plugin();
    } catch (e) {
      // An error code from capsock is a string in `e.payload` (and the
      // message); `e.stack` says which call failed.
      console.error(`temperature plugin failed: ${e.payload ?? e}\n${e.stack ?? ''}`);
      throw e;
    }
  },
};

/** Receives the logs, reads them, and sends the report back. */
function plugin() {
  // The broker's socket was granted by the host under the name "broker"
  // (`capsock run --unix-connect broker=PATH`). `take` hands over a plain
  // `descriptor`; `Socket.fromDescriptor` moves its file descriptor into
  // a `socket` handle (the descriptor handle is empty afterwards).
  const grant = take('broker');
  const broker = Socket.fromDescriptor(grant);
  grant[dispose]();

  // One recvmsg(2): the data, and room for one SCM_RIGHTS control message
  // with up to MAX_FDS descriptors. `cmsgSpace` takes and returns a u64
  // (BigInt), which is what `recvMsg`'s `control-space` wants.
  const message = broker.recvMsg(MAX_DATA, cmsgSpace(MAX_FDS * FD_SIZE), {});

  // Collect the received descriptors (SCM_RIGHTS arrives as the variant
  // case `rights`, a list of new `descriptor` handles). Other items are
  // dropped, as the Rust SDK's `recv_fds` does.
  const fds = [];
  for (const item of message.ancillary) {
    if (item.tag === 'rights') {
      fds.push(...item.val);
    } else {
      disposeItem(item);
    }
  }

  // `message.flags` is an object of booleans whose keys are the WIT flag
  // names in camelCase (`truncated`, `controlTruncated`, ...: unlike enum
  // and variant cases, which stay kebab-case strings). List the ones set,
  // by their WIT names.
  const flags = Object.keys(message.flags)
    .filter((f) => message.flags[f])
    .map((f) => f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
  const data = new TextDecoder().decode(message.data); // invalid UTF-8 -> U+FFFD
  let report =
    `plugin received ${JSON.stringify(data)} with ${fds.length} handle(s)` +
    (flags.length ? ` (flags ${flags.join(' | ')})` : '') +
    '\n';

  // Read each file through its handle, to the end, and summarize it.
  fds.forEach((handle, i) => {
    const text = readToString(handle);
    handle[dispose](); // close the file in the host now
    report += `file ${i + 1}: ${summarize(text)}\n`;
  });

  // Send the report back and tell the broker we are done (shutdown of
  // the write side: the broker reads to end-of-file).
  writeAll(broker, new TextEncoder().encode(report));
  broker.shutdown('send');
  broker[dispose]();

  // Also print it (console.log writes to the guest's stdout).
  console.log(report.trimEnd());
}

/** Reads a descriptor to end-of-file (`read` returns an empty list). */
function readToString(handle) {
  const chunks = [];
  let total = 0;
  for (;;) {
    const chunk = handle.read(READ_CHUNK); // a Uint8Array
    if (chunk.length === 0) break;
    chunks.push(chunk);
    total += chunk.length;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  // `fatal`: invalid UTF-8 is an error, as with Rust's `read_to_string`.
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/** `send` until every byte is out (`send` may write fewer bytes). */
function writeAll(socket, bytes) {
  let at = 0;
  while (at < bytes.length) {
    // `send` returns the count as a u64, i.e. a BigInt: convert it before
    // adding it to a Number (mixing the two throws a TypeError).
    const sent = Number(socket.send(bytes.subarray(at), {}));
    if (sent === 0) throw new Error('send wrote nothing');
    at += sent;
  }
}

/** Drops the handles a received ancillary item we do not use may carry. */
function disposeItem(item) {
  if (item.tag === 'pidfd') item.val[dispose]();
}

/** "time temp" lines in, "n readings, min, max, mean" out. */
function summarize(text) {
  const temps = [];
  for (const line of text.split('\n')) {
    const temp = line.trim().split(/\s+/)[1];
    if (temp !== undefined && DECIMAL.test(temp)) temps.push(Number(temp));
  }
  if (temps.length === 0) return 'no readings';
  const min = Math.min(...temps);
  const max = Math.max(...temps);
  const mean = temps.reduce((a, b) => a + b, 0) / temps.length;
  return `${temps.length} readings, min ${min} °C, max ${max} °C, mean ${fixed2(mean)} °C`;
}

/** A decimal number, as Rust's `f64::from_str` reads it (no inf or NaN);
 * JavaScript's `Number()` alone would also take "0x10" or "". */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** `x` with two decimals as Rust's `{:.2}` writes it: an exact tie (20.125)
 * rounds to even (20.12), where `toFixed` rounds up (20.13). A double is
 * exactly halfway between two hundredths only when 8x is an odd integer
 * (x = j/8: .125, .375, .625, .875), and then 100x is exact too. */
function fixed2(x) {
  const eighths = x * 8; // exact: a power of two
  if (Number.isInteger(eighths) && eighths % 2 !== 0) {
    const low = Math.floor(x * 100); // n, with 100x = n + 0.5
    return ((low % 2 === 0 ? low : low + 1) / 100).toFixed(2);
  }
  return x.toFixed(2);
}
