// A per-test time limit for `node --test`, loaded with --import (see scripts/test_runtimes.mjs):
// every `it` and `test` gets node:test's `timeout` option (WIREFETCH_TEST_TIMEOUT milliseconds,
// default 15000) unless it sets its own. Node's `--test-timeout` cannot do this on Node 20: it
// bounds each file, so a hang would cancel the whole file without naming the test.
//
// node:test's ESM exports are bindings of its CommonJS module object; replacing the functions
// there and calling syncBuiltinESMExports() makes `import { it } from "node:test"` see them.
import { createRequire, syncBuiltinESMExports } from "node:module";

const nodeTest = createRequire(import.meta.url)("node:test");
const limit = Number(process.env.WIREFETCH_TEST_TIMEOUT) > 0
  ? Number(process.env.WIREFETCH_TEST_TIMEOUT)
  : 15_000;

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
