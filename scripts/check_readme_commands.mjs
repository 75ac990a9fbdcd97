// Runs every shell command README.md documents, on a clean clone, and fails if any fails: a
// command that works only in a developer's long-lived checkout (a stale npm/ build, a Deno cache
// that happens to hold a package) is a broken README.
//
//   node scripts/check_readme_commands.mjs            clone HEAD into a temp dir, npm ci, run all
//   node scripts/check_readme_commands.mjs --list     print the commands and what runs for each
//   node scripts/check_readme_commands.mjs --here     run in this checkout (no clone, no npm ci)
//
// The commands are the lines of the README's ```sh blocks (comments dropped). Each runs as
// written in the clone's root, through /bin/sh, with a time limit, except:
// - URLs outside the machine (https://example.com/) point at a local HTTP server this script
//   starts, so the check is offline and measures nothing on the internet;
// - `npm test` runs one test file: CI runs the whole suite in its own checkout already, and here
//   the point is that the command works on a fresh clone;
// - `npm run bench` runs with the shortest durations (BENCH_SECONDS and friends).
// `git clone` of HEAD means uncommitted changes are not checked: commit first.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const listOnly = args.includes("--list");
const here = args.includes("--here");
const COMMAND_TIMEOUT_MS = 240_000;

/** The README's shell commands, in order, without comments, each once. */
function readmeCommands(markdown) {
  const commands = [];
  const blocks = markdown.matchAll(/^```(?:sh|shell|bash)\n([\s\S]*?)^```/gm);
  for (const [, body] of blocks) {
    for (const raw of body.split("\n")) {
      const line = raw.replace(/(^|\s)#.*$/, "").trim();
      if (line !== "" && !commands.includes(line)) commands.push(line);
    }
  }
  return commands;
}

/** What actually runs for a documented command (see the header). */
function planFor(command, localUrl) {
  let run = command.replace(/https?:\/\/(?!127\.0\.0\.1|localhost|\[::1\])[^\s'"]+/g, localUrl);
  const env = {};
  if (/^npm test\s*$/.test(run)) run = "npm test -- tests/h1/chunked_test.ts";
  if (/^npm run bench(:bun)?\b/.test(run)) {
    Object.assign(env, {
      BENCH_SECONDS: "0.2",
      BENCH_WARMUP_SECONDS: "0.1",
      BENCH_BIG_ITERATIONS: "1",
    });
  }
  return { run, env };
}

function sh(command, cwd, env, timeout) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn("/bin/sh", ["-c", command], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      output += `\n[killed after ${timeout} ms]`;
      try {
        process.kill(-child.pid, "SIGKILL"); // the whole process group: npm spawns children
      } catch { /* already gone */ }
    }, timeout);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 1 : 0), output, ms: Date.now() - started });
    });
  });
}

const markdown = readFileSync(join(root, "README.md"), "utf8");
const commands = readmeCommands(markdown);
if (commands.length === 0) {
  console.error("check_readme_commands: README.md has no ```sh blocks");
  process.exit(1);
}

// A stand-in for the internet: answers every request with a small JSON body.
const server = createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ from: "check_readme_commands", path: req.url }));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const localUrl = `http://127.0.0.1:${server.address().port}/`;

if (listOnly) {
  for (const command of commands) {
    const { run, env } = planFor(command, localUrl);
    const extra = Object.entries(env).map(([k, v]) => `${k}=${v} `).join("");
    console.log(run === command && !extra ? command : `${command}\n    runs: ${extra}${run}`);
  }
  server.close();
  process.exit(0);
}

let dir = root;
let clone = null;
if (!here) {
  clone = mkdtempSync(join(tmpdir(), "wirefetch-readme-"));
  dir = join(clone, "repo");
  const cloned = spawnSync("git", ["clone", "--quiet", root, dir], { stdio: "inherit" });
  if (cloned.status !== 0) {
    console.error("check_readme_commands: git clone failed");
    process.exit(1);
  }
  console.log(`check_readme_commands: clean clone of HEAD in ${dir}`);
}

let failed = 0;
for (const command of commands) {
  const { run, env } = planFor(command, localUrl);
  if (here && /^npm ci\b/.test(run)) {
    console.log(`skip (--here): ${command}`);
    continue;
  }
  const result = await sh(run, dir, env, COMMAND_TIMEOUT_MS);
  const label = run === command ? command : `${command}  (ran: ${run})`;
  if (result.code === 0) {
    console.log(`ok   ${label}  [${(result.ms / 1000).toFixed(1)} s]`);
  } else {
    failed++;
    console.log(`FAIL ${label}  (exit code ${result.code})\n${result.output.trimEnd()}\n`);
  }
}
server.close();
if (clone !== null) rmSync(clone, { recursive: true, force: true });
console.log(
  `check_readme_commands: ${commands.length - failed} of ${commands.length} README commands work`,
);
process.exit(failed > 0 ? 1 : 0);
