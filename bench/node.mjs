// Runs bench/bench.ts on Node against the npm build. Node 20 cannot run TypeScript, so this
// builds npm/ (scripts/build_npm.ts, unless --no-build), compiles bench/**/*.ts with
// TypeScript's transpiler (".ts" imports become ".js") into node_modules/.cache/wirefetch-bench/,
// copies the server and nginx config beside them, and runs the result with --expose-gc, pointing
// it at npm/esm/mod.js. Every bench.ts flag works:
//
//   node bench/node.mjs [--no-build] [MODE] [OPTIONS]
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bench = join(root, "bench");
const out = join(root, "node_modules", ".cache", "wirefetch-bench");
// require, not import: `deno check bench/` would otherwise try to resolve the package.
const ts = createRequire(import.meta.url)("typescript");

const args = process.argv.slice(2);
if (!args.includes("--no-build") && !args.includes("--help")) {
  const built = spawnSync(
    join(root, "node_modules", ".bin", "deno"),
    ["run", "-A", "scripts/build_npm.ts"],
    { cwd: root, stdio: "inherit", env: { ...process.env, DENO_NO_PACKAGE_JSON: "1" } },
  );
  if (built.status !== 0) process.exit(built.status ?? 1);
}

rmSync(out, { recursive: true, force: true });
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const target = join(out, relative(bench, path));
    if (entry.isDirectory()) {
      walk(path);
    } else if (entry.name.endsWith(".ts")) {
      const { outputText } = ts.transpileModule(readFileSync(path, "utf8"), {
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          rewriteRelativeImportExtensions: true,
        },
        fileName: path,
      });
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target.replace(/\.ts$/, ".js"), outputText);
    } else if (entry.name.endsWith(".mjs") || entry.name.endsWith(".conf")) {
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(path, target);
    }
  }
};
walk(bench);

const run = spawnSync(
  process.execPath,
  ["--expose-gc", join(out, "bench.js"), ...args.filter((a) => a !== "--no-build")],
  {
    stdio: "inherit",
    env: {
      ...process.env,
      BENCH_REPO: root,
      BENCH_WIREFETCH_MODULE: pathToFileURL(join(root, "npm", "esm", "mod.js")).href,
    },
  },
);
process.exit(run.status ?? 1);
