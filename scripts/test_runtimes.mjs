// How each runtime runs the suite, shared by scripts/test.mjs, scripts/test_node.mjs and the
// test that proves a hanging test fails (tests/scripts/test_timeout_test.ts).
//
// Every test has a time limit, WIREFETCH_TEST_TIMEOUT milliseconds (default 20000): a regression
// that makes a test wait forever shows up as a failure under the test's name, and the run goes on.
// - Bun: `bun test --timeout`.
// - Deno: `deno test` has no such flag; scripts/deno_test_timeout.ts, loaded with --preload,
//   races every test and step against the limit.
// - Node: `node --test --test-timeout` bounds each *file* on Node 20 (process isolation), not each
//   test; scripts/node_test_timeout.mjs, loaded with --import, gives every `it`/`test` node:test's
//   own `timeout` option, and ends a file that a timed-out test left hanging.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** The repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The per-test limit in milliseconds. */
export const testTimeout = Number(process.env.WIREFETCH_TEST_TIMEOUT) > 0
  ? Number(process.env.WIREFETCH_TEST_TIMEOUT)
  : 20_000;

/** The environment the runners get: the limit, and no colours (the summaries are parsed). */
export function testEnv(extra = {}) {
  const env = { ...process.env };
  // The tests talk to servers on loopback; a developer's proxy variables would send them through
  // that proxy (loopback is not exempt, as in the runtimes' fetch). Tests of the proxy
  // environment set the variables they need themselves.
  for (const name of ["http_proxy", "https_proxy", "all_proxy", "no_proxy"]) {
    delete env[name];
    delete env[name.toUpperCase()];
  }
  return {
    ...env,
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    WIREFETCH_TEST_TIMEOUT: String(testTimeout),
    ...extra,
  };
}

/** `deno test` arguments for the given test paths. */
export function denoTestArgs(paths) {
  return [
    "test",
    "-A",
    "--v8-flags=--expose-gc",
    "--no-check",
    "--preload",
    join(root, "scripts", "deno_test_timeout.ts"),
    ...paths,
  ];
}

/** `bun test` arguments for the given test paths (Bun takes the limit as a flag). */
export function bunTestArgs(paths, timeout = testTimeout) {
  return [
    "test",
    "--timeout",
    String(timeout),
    ...paths.map((p) => (p.startsWith("/") ? p : "./" + p.replace(/^\.\//, ""))),
  ];
}

/** `node` arguments that run the given compiled test files with node:test. */
export function nodeTestArgs(files) {
  return [
    "--expose-gc",
    "--import",
    join(root, "scripts", "node_test_timeout.mjs"),
    "--test",
    "--test-reporter=spec",
    // One file at a time, as `deno test` and `bun test` run them: several tests measure time.
    "--test-concurrency=1",
    // Not --test-force-exit: on Node 20 it ends a file before its results reach the parent
    // (nodejs/node#64833, #54327), so tests went missing with exit code 0. A file that a
    // timed-out test left hanging is ended by scripts/node_test_timeout.mjs instead.
    ...files,
  ];
}
