// A per-test time limit for `node --test`, loaded with --import (see scripts/test_runtimes.mjs):
// every `it` and `test` gets node:test's `timeout` option (WIREFETCH_TEST_TIMEOUT milliseconds,
// default 20000) unless it sets its own. Node's `--test-timeout` cannot do this on Node 20: it
// bounds each file, so a hang would cancel the whole file without naming the test.
//
// node:test's ESM exports are bindings of its CommonJS module object; replacing the functions
// there and calling syncBuiltinESMExports() makes `import { it } from "node:test"` see them.
import { createRequire, syncBuiltinESMExports } from "node:module";

const nodeTest = createRequire(import.meta.url)("node:test");
const limit = Number(process.env.WIREFETCH_TEST_TIMEOUT) > 0
  ? Number(process.env.WIREFETCH_TEST_TIMEOUT)
  : 20_000;

// it/test take (fn), (name, fn), (options, fn), (name, options, fn), (name, options).
function withTimeout(original) {
  const wrapped = function (name, options, fn) {
    if (typeof name !== "string") {
      fn = options;
      options = name;
      name = undefined;
    }
    if (typeof options === "function") {
      fn = options;
      options = undefined;
    }
    const bounded = { timeout: limit, ...options };
    return name === undefined ? original(bounded, fn) : original(name, bounded, fn);
  };
  // it.skip, it.only, it.todo keep their own behaviour.
  return Object.assign(wrapped, original);
}

nodeTest.it = withTimeout(nodeTest.it);
nodeTest.test = withTimeout(nodeTest.test);
syncBuiltinESMExports();

// A file whose timed-out test left sockets or timers open would never end by itself. Node's
// --test-force-exit would end it, but on Node 20 it exits before the file's results reach the
// parent (nodejs/node#54327, #64833): tests went missing from the count with exit code 0. So once
// every test of the file has finished (the root `after` hook), a timer that does not keep the
// process alive ends it a little later, after the results were written; a file that ends on
// its own never waits for it.
nodeTest.after(() => {
  setTimeout(() => process.exit(), 2_000).unref();
});
