/**
 * Builds the npm package in `npm/`: ESM JavaScript and .d.ts files compiled by TypeScript from the
 * same sources Deno and Bun run, a package.json and the README.
 *
 * ```sh
 * deno task build:npm          # or: deno run -A scripts/build_npm.ts
 * cd npm && npm pack --dry-run # what would be published
 * ```
 *
 * The entry points are deno.json's `exports`, plus "./tcp-info" when `tcp_info.ts` exists and
 * deno.json does not list it; an entry whose source starts with a shebang (httpstat.ts) becomes a
 * `bin` instead. Compiler settings live in tsconfig.npm.json: `rewriteRelativeImportExtensions`
 * (TypeScript >= 5.7) turns the sources' "./x.ts" imports into "./x.js". Under Node the library
 * picks `node:net`/`node:tls` by itself (src/runtime/connector.ts), so the package has no
 * dependencies and no build-time shims, only the optional dependency `koffi` for TCP_INFO on Node
 * (the version of package.json's devDependency). The result is checked on Node: every module entry point
 * is imported and every command runs `--help`.
 *
 * Where `deno task` cannot install package.json's devDependencies (offline), run it as
 * `DENO_NO_PACKAGE_JSON=1 deno task build:npm`, or `npm run build:npm`.
 *
 * @module
 */

// node: modules rather than jsr:@std/path, so the build needs no network.
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "npm");
const esm = join(out, "esm");

// deno-lint-ignore no-explicit-any
type Json = any;

async function readJson(path: string): Promise<Json> {
  return JSON.parse(await Deno.readTextFile(path));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function fail(message: string): never {
  console.error(`build:npm: ${message}`);
  Deno.exit(1);
}

const denoJson = await readJson(join(root, "deno.json"));
const packageJson = await readJson(join(root, "package.json"));

// Entry points: subpath → source file (relative to the repository root, without "./").
const entries = new Map<string, string>();
const exportsField = typeof denoJson.exports === "string"
  ? { ".": denoJson.exports }
  : denoJson.exports;
for (const [subpath, source] of Object.entries(exportsField as Record<string, string>)) {
  entries.set(subpath, source.replace(/^\.\//, ""));
}
if (!entries.has("./tcp-info") && await exists(join(root, "tcp_info.ts"))) {
  entries.set("./tcp-info", "tcp_info.ts");
}
for (const source of entries.values()) {
  if (!source.endsWith(".ts")) fail(`entry point ${source} is not a .ts file`);
  if (!await exists(join(root, source))) fail(`entry point ${source} does not exist`);
}

await Deno.remove(out, { recursive: true }).catch((error) => {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
});
await Deno.mkdir(out, { recursive: true });

// A config that only names the files: everything else comes from tsconfig.npm.json, whose
// rootDir and outDir are relative to itself (so `esm/` mirrors the repository's layout).
const buildConfig = join(out, "tsconfig.build.json");
await Deno.writeTextFile(
  buildConfig,
  JSON.stringify(
    {
      extends: "../tsconfig.npm.json",
      files: [...entries.values()].map((source) => `../${source}`),
    },
    null,
    2,
  ) + "\n",
);

const tsc = join(root, "node_modules", ".bin", "tsc");
if (!await exists(tsc)) fail(`${tsc} not found: run npm ci first`);
const compiled = await new Deno.Command(tsc, {
  args: ["-p", buildConfig],
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!compiled.success) fail("tsc failed (nothing emitted: noEmitOnError)");

// rewriteRelativeImportExtensions rewrites every static import and literal dynamic import; a
// relative ".ts" specifier left in the JavaScript would fail at run time on Node, so check.
const leftovers: string[] = [];
async function scan(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) await scan(path);
    else if (entry.name.endsWith(".js")) {
      const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']*\.ts)["']/g;
      for (const line of (await Deno.readTextFile(path)).split("\n")) {
        // JSDoc examples keep their "./x.ts" imports; they are documentation, not code.
        if (/^\s*(?:\*|\/\/|\/\*)/.test(line)) continue;
        for (const match of line.matchAll(pattern)) {
          leftovers.push(`${relative(root, path)}: ${match[1]}`);
        }
      }
    }
  }
}
await scan(esm);
if (leftovers.length > 0) {
  fail(`relative .ts imports left in the output:\n  ${leftovers.join("\n  ")}`);
}

// An entry point that starts with a shebang is a command (httpstat.ts runs when loaded): on JSR
// it is an export for `deno run jsr:...`, on npm it becomes a `bin` with a Node shebang, and is
// not exported, since importing it would run it.
const exportsMap: Record<string, { types: string; default: string } | string> = {};
const bin: Record<string, string> = {};
const libraries: string[] = [];
for (const [subpath, source] of entries) {
  const base = `./esm/${source.replace(/\.ts$/, "")}`;
  const js = join(out, `${base}.js`);
  if (!await exists(js)) fail(`${base}.js was not emitted`);
  if ((await Deno.readTextFile(join(root, source))).startsWith("#!")) {
    const text = await Deno.readTextFile(js);
    await Deno.writeTextFile(js, text.replace(/^#!.*/, "#!/usr/bin/env node"));
    await Deno.chmod(js, 0o755);
    bin[subpath.replace(/^\.\//, "")] = `${base}.js`;
  } else {
    exportsMap[subpath] = { types: `${base}.d.ts`, default: `${base}.js` };
    libraries.push(js);
  }
}
exportsMap["./package.json"] = "./package.json";

const files = ["esm/", "README.md"];
for (const extra of ["LICENSE", "ARCHITECTURE.md"]) {
  if (await exists(join(root, extra))) {
    await Deno.copyFile(join(root, extra), join(out, extra));
    files.push(extra);
  }
}

// The README's examples import from JSR; on npm the same module is the package name.
const readme = await Deno.readTextFile(join(root, "README.md"));
await Deno.writeTextFile(
  join(out, "README.md"),
  readme.replaceAll("jsr:@wirefetch/fetch", "@wirefetch/fetch"),
);

// deno.json's npm: imports (@opentelemetry/api, for ./otel only) are the application's own copy:
// optional peer dependencies, so the core entry points install with no dependency at all.
const peers: Record<string, string> = {};
for (const target of Object.values((denoJson.imports ?? {}) as Record<string, string>)) {
  const match = /^npm:(@?[^@]+)@(.+)$/.exec(target);
  if (match) peers[match[1]] = match[2];
}

const main = entries.get(".")!.replace(/\.ts$/, "");
const manifest = {
  name: denoJson.name,
  version: denoJson.version,
  description: packageJson.description,
  license: denoJson.license ?? packageJson.license,
  type: "module",
  main: `./esm/${main}.js`,
  types: `./esm/${main}.d.ts`,
  exports: exportsMap,
  ...(Object.keys(bin).length > 0 ? { bin } : {}),
  files,
  // TCP_INFO on Node calls getsockopt through koffi (src/tcp_info/ffi_node.ts). Optional: without
  // it everything else works and tcpInfo answers UNSUPPORTED. koffi's native code comes in
  // per-platform optional packages (@koromix/koffi-<os>-<arch>), so no build step runs.
  optionalDependencies: { koffi: packageJson.devDependencies.koffi },
  // 20.4 added Symbol.asyncDispose, which `await using client` needs.
  engines: { node: ">=20.4" },
  ...(Object.keys(peers).length > 0
    ? {
      peerDependencies: peers,
      peerDependenciesMeta: Object.fromEntries(
        Object.keys(peers).map((name) => [name, { optional: true }]),
      ),
    }
    : {}),
  keywords: ["fetch", "http", "http1.1", "keep-alive", "connection-pool", "deno", "bun", "node"],
};
await Deno.writeTextFile(join(out, "package.json"), JSON.stringify(manifest, null, 2) + "\n");

// The package must work on Node with nothing but itself: import every module entry point there,
// and run every command with --help.
const node = Deno.build.os === "windows" ? "node.exe" : "node";
async function onNode(args: string[], what: string): Promise<boolean> {
  try {
    const result = await new Deno.Command(node, { args, stdout: "null", stderr: "inherit" })
      .output();
    if (!result.success) fail(`${what} fails on Node`);
    return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    console.warn("build:npm: node not found, skipped the checks on Node");
    return false;
  }
}
const imports = libraries.map((path) =>
  `await import(${JSON.stringify(pathToFileURL(path).href)});`
);
if (await onNode(["--input-type=module", "-e", imports.join("")], "loading the package")) {
  for (const [name, path] of Object.entries(bin)) {
    await onNode([join(out, path), "--help"], `the ${name} command`);
  }
}

console.log(
  `build:npm: ${manifest.name}@${manifest.version} in ${relative(Deno.cwd(), out) || "."}/ ` +
    `(exports ${Object.keys(exportsMap).join(", ")}` +
    (Object.keys(bin).length > 0 ? `; bin ${Object.keys(bin).join(", ")})` : ")"),
);
