// The suite's runners give every test a time limit (scripts/test_runtimes.mjs): a test that never
// finishes fails under its own name within seconds, and the tests after it still run.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Under Node this file runs compiled, below node_modules/.cache: find the repository upwards.
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "scripts", "test_runtimes.mjs"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("scripts/test_runtimes.mjs not found above this test");
    dir = parent;
  }
  return dir;
}

interface Runtimes {
  denoTestArgs(paths: string[]): string[];
  bunTestArgs(paths: string[], timeout: number): string[];
  nodeTestArgs(files: string[]): string[];
  testEnv(extra: Record<string, string>): Record<string, string>;
}

const isBun = "Bun" in globalThis;
const isDeno = "Deno" in globalThis && !isBun;
const compiled = import.meta.url.endsWith(".js");
const ANSI = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g");

// node --test tells its children through NODE_TEST_CONTEXT; a nested run must not inherit it.
function childEnv(env: Record<string, string>): Record<string, string> {
  const { NODE_TEST_CONTEXT: _, ...rest } = env;
  return rest;
}

describe("per-test time limit", () => {
  it("fails a hanging test by name and runs the next one", async () => {
    const root = repositoryRoot();
    const runtimes = await import(
      new URL(`file://${join(root, "scripts", "test_runtimes.mjs")}`).href
    ) as Runtimes;
    const fixture = fileURLToPath(
      new URL(compiled ? "./hanging_fixture.js" : "./hanging_fixture.ts", import.meta.url),
    );
    const args = isDeno
      ? runtimes.denoTestArgs([fixture])
      : isBun
      ? runtimes.bunTestArgs([fixture], 1000)
      : runtimes.nodeTestArgs([fixture]);
    const run = await new Promise<{ killed: boolean; code: number; output: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          args,
          {
            cwd: root,
            // The child's own limit is 1 s; this outer bound only guards against the mechanism
            // itself failing (then `killed` is true and the assertion below names the problem).
            timeout: 12_000,
            env: childEnv(runtimes.testEnv({ WIREFETCH_TEST_TIMEOUT: "1000" })),
          },
          (error, stdout, stderr) => {
            const e = error as { killed?: boolean; code?: number } | null;
            resolve({
              killed: e?.killed === true,
              code: e ? Number(e.code ?? 1) : 0,
              // Deno colours its report even with NO_COLOR.
              output: (stdout + stderr).replaceAll(ANSI, ""),
            });
          },
        );
      },
    );
    assert.equal(run.killed, false, `the runner did not stop the hanging test:\n${run.output}`);
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /waits forever on a listening socket/);
    assert.match(run.output, /timed out after 1000 ?ms/);
    // The test after the hang ran and passed.
    const passed = isDeno
      ? /still runs after the hang \.\.\. ok/
      : isBun
      ? /\(pass\) fixture suite > still runs after the hang/
      : /✔ still runs after the hang/;
    assert.match(run.output, passed, run.output);
  });
});
