// Runs the whole suite on Deno and on Bun (the runtimes come from devDependencies), and on Node
// against the npm build (scripts/test_node.mjs), prints each runner's output, then one closing
// line with the totals. Exits non-zero if any test failed or a runner could not run. Extra
// arguments are passed to every runner as test paths.
import "./ensure_packages.mjs"; // Debian packages the tests start as servers (proxies).
// Every test has a time limit (WIREFETCH_TEST_TIMEOUT ms, see scripts/test_runtimes.mjs).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { bunTestArgs, denoTestArgs, root, testEnv } from "./test_runtimes.mjs";

const bin = (name) => join(root, "node_modules", ".bin", name);
const paths = process.argv.slice(2);

function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      env: testEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (stream, sink) =>
      stream.on("data", (chunk) => {
        output += chunk;
        sink.write(chunk);
      });
    collect(child.stdout, process.stdout);
    collect(child.stderr, process.stderr);
    child.on("error", (error) => resolve({ code: 127, output: String(error) }));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

// deno: "ok | 12 passed (3 steps) | 0 failed" or "FAILED | 11 passed | 1 failed"
function denoCounts(output) {
  const m = [
    ...output.matchAll(
      /\|\s*(\d+) passed(?: \((\d+) steps?\))?\s*\|\s*(\d+) failed(?: \((\d+) steps?\))?/g,
    ),
  ].pop();
  if (!m) return null;
  // node:test cases run as Deno test steps; count them when present.
  const passed = m[2] !== undefined ? Number(m[2]) : Number(m[1]);
  const failed = m[4] !== undefined ? Number(m[4]) : Number(m[3]);
  return { passed, failed };
}

// bun: " 42 pass" / " 1 fail"
function bunCounts(output) {
  const p = [...output.matchAll(/^\s*(\d+) pass\s*$/gm)].pop();
  const f = [...output.matchAll(/^\s*(\d+) fail\s*$/gm)].pop();
  if (!p && !f) return null;
  return { passed: p ? Number(p[1]) : 0, failed: f ? Number(f[1]) : 0 };
}

const results = [];
const deno = await run(bin("deno"), denoTestArgs(paths.length ? paths : ["tests/"]));
results.push(["deno", deno, denoCounts(deno.output)]);
const bun = await run(bin("bun"), bunTestArgs(paths.length ? paths : ["tests/"]));
results.push(["bun", bun, bunCounts(bun.output)]);
// node --test's spec reporter: "ℹ pass 42" / "ℹ fail 1" / "ℹ cancelled 0" (TAP: "# pass 42").
function nodeCounts(output) {
  const last = (name) => [...output.matchAll(new RegExp(`^[ℹ#] ${name} (\\d+)\\s*$`, "gm"))].pop();
  const p = last("pass");
  const f = last("fail");
  if (!p && !f) return null;
  const cancelled = last("cancelled");
  return {
    passed: p ? Number(p[1]) : 0,
    failed: (f ? Number(f[1]) : 0) + (cancelled ? Number(cancelled[1]) : 0),
  };
}
const node = await run(process.execPath, [join(root, "scripts", "test_node.mjs"), ...paths]);
results.push(["node", node, nodeCounts(node.output)]);

let passed = 0;
let failed = 0;
let broken = false;
console.log("");
for (const [name, result, counts] of results) {
  if (counts === null) {
    console.log(`${name}: no test summary found (exit code ${result.code})`);
    broken = true;
    continue;
  }
  console.log(
    `${name}: ${counts.passed} passed, ${counts.failed} failed (exit code ${result.code})`,
  );
  passed += counts.passed;
  failed += counts.failed;
  if (result.code !== 0 && counts.failed === 0) broken = true;
}
// Bun and Node run the same test files (Node their compiled copies), and the suite registers
// the same tests on every runtime (where one cannot do something, its test asserts the
// documented error instead). Different counts mean tests silently did not run on one of them,
// e.g. a test file whose process ended early: that fails the run rather than pass quietly.
const bunCount = results[1][2];
const nodeCount = results[2][2];
if (bunCount !== null && nodeCount !== null) {
  const ranOnBun = bunCount.passed + bunCount.failed;
  const ranOnNode = nodeCount.passed + nodeCount.failed;
  if (ranOnBun !== ranOnNode) {
    console.log(
      `bun ran ${ranOnBun} tests and node ${ranOnNode}: the same files must run the same tests`,
    );
    broken = true;
  }
}
if (broken && failed === 0) failed = 1;
console.log(`total: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || broken ? 1 : 0);
