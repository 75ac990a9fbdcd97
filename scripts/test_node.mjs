// Runs the test suite on Node against the npm build: builds npm/ (scripts/build_npm.ts), compiles
// tests/**/*.ts with the same "./x.ts" → "./x.js" rewrite into node_modules/.cache/wirefetch-node/
// (where `deno test` and `bun test` do not look for test files), links the compiled tests'
// "../mod.js", "../global.js", "../src/..." onto the built files in npm/esm/, and runs
// `node --test --expose-gc` on every *_test.js. The tests already use node:test and node:assert,
// so they run unchanged.
//
//   node scripts/test_node.mjs                        build, then the whole suite
//   node scripts/test_node.mjs tests/fetch_test.ts    only some files (or directories)
//   node scripts/test_node.mjs --no-build ...         reuse npm/ as it is
//
// Node's spec reporter ends with "ℹ pass N" / "ℹ fail N" lines, which scripts/test.mjs counts.
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { nodeTestArgs } from "./test_runtimes.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Loaded with require rather than `import ts from "typescript"`: `deno check scripts/` would
// otherwise resolve the bare specifier against package.json and try to install it.
const ts = createRequire(import.meta.url)("typescript");
const npm = join(root, "npm");
const esm = join(npm, "esm");
const out = join(root, "node_modules", ".cache", "wirefetch-node");
const bin = (name) => join(root, "node_modules", ".bin", name);

const args = process.argv.slice(2);
const build = !args.includes("--no-build");
const paths = args.filter((a) => a !== "--no-build");

function run(command, argv, options = {}) {
  return new Promise((resolvePromise) => {
    const child = spawn(command, argv, { cwd: root, stdio: "inherit", ...options });
    child.on("error", (error) => {
      console.error(String(error));
      resolvePromise(127);
    });
    child.on("close", (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
  });
}

function die(message) {
  console.error(`test:node: ${message}`);
  process.exit(1);
}

if (build) {
  const code = await run(bin("deno"), ["run", "-A", "scripts/build_npm.ts"]);
  if (code !== 0) die(`the npm build failed (exit code ${code})`);
}
if (!existsSync(join(esm, "mod.js"))) die("npm/esm/mod.js missing: run deno task build:npm");

// Compile the tests file by file (types are checked by `deno task check`; here only the
// JavaScript matters), with the package's compiler options.
const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.npm.json"), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) =>
    die(ts.flattenDiagnosticMessageText(d.messageText, "\n")),
});
const compilerOptions = {
  ...config.options,
  // Out of a program, NodeNext cannot see that the files are ESM (package.json "type"); say so.
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  declaration: false,
  sourceMap: false,
};

function walk(dir, found = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, found);
    else found.push(path);
  }
  return found;
}

rmSync(out, { recursive: true, force: true });
const tests = join(root, "tests");
for (const source of walk(tests)) {
  if (!source.endsWith(".ts") || source.endsWith(".d.ts")) continue;
  const target = join(out, relative(root, source)).replace(/\.ts$/, ".js");
  const { outputText, diagnostics } = ts.transpileModule(readFileSync(source, "utf8"), {
    compilerOptions,
    fileName: source,
    reportDiagnostics: true,
  });
  for (const d of diagnostics ?? []) {
    die(`${relative(root, source)}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
  }
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, outputText);
}

// What the tests import from outside tests/ is the built package: <out>/mod.js is a link to
// npm/esm/mod.js, <out>/src to npm/esm/src. Node resolves links to their real path, so
// a module reached through either path is loaded once (instanceof holds across them).
for (const entry of readdirSync(esm, { withFileTypes: true })) {
  if (entry.isDirectory() || entry.name.endsWith(".js")) {
    symlinkSync(join(esm, entry.name), join(out, entry.name));
  }
}
// Files the tests read at run time (TLS certificates), relative to their own module.
for (const entry of readdirSync(tests, { withFileTypes: true, recursive: true })) {
  if (entry.isDirectory() && entry.name === "fixtures") {
    const source = join(entry.parentPath ?? entry.path, entry.name);
    symlinkSync(source, join(out, relative(root, source)));
  }
}
// The package under its own name, to check its exports map.
mkdirSync(join(out, "node_modules", "@wirefetch"), { recursive: true });
symlinkSync(npm, join(out, "node_modules", "@wirefetch", "fetch"));

const manifest = JSON.parse(readFileSync(join(npm, "package.json"), "utf8"));
const expected = {
  ".": ["fetch", "Client", "defaultClient", "WirefetchError", "VERSION"],
  "./global": ["install", "uninstall"],
  "./har": ["HarRecorder"],
  "./otel": ["instrument"],
};
const probe = Object.keys(manifest.exports)
  .filter((subpath) => subpath !== "./package.json")
  .map((subpath) => {
    const specifier = manifest.name + subpath.slice(1);
    const names = JSON.stringify(expected[subpath] ?? []);
    return `{ const m = await import(${JSON.stringify(specifier)});
      const missing = ${names}.filter((n) => !(n in m));
      if (missing.length) throw new Error(${JSON.stringify(specifier)} + " lacks " + missing);
      console.log("package export ${specifier}: " + Object.keys(m).length + " names"); }`;
  })
  .join("\n");
const probed = await run(process.execPath, ["--input-type=module", "-e", probe], { cwd: out });
if (probed !== 0) die("the package's exports do not load by name");

// Test files: all *_test.js, or those under the given paths (tests/x_test.ts or directories).
const all = walk(join(out, "tests")).filter((f) => f.endsWith("_test.js")).sort();
let files = all;
if (paths.length > 0) {
  files = [];
  for (const p of paths) {
    const mapped = join(out, relative(root, resolve(root, p))).replace(/\.ts$/, ".js");
    const dir = existsSync(mapped) && statSync(mapped).isDirectory();
    const matches = all.filter((f) => f === mapped || (dir && f.startsWith(mapped + "/")));
    if (matches.length === 0) die(`no compiled test file for ${p}`);
    files.push(...matches);
  }
}

// Each test has a time limit (scripts/node_test_timeout.mjs, loaded by nodeTestArgs).
const code = await run(process.execPath, nodeTestArgs(files.map((f) => relative(root, f))));
process.exit(code);
