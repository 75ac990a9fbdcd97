// `npm start`: runs httpstat (the project's main job) on Deno from devDependencies. Without
// arguments it measures an embedded local demo server; `npm start -- URL -n 3` measures a URL.
// Pass --bun to run it on Bun instead.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const useBun = args.includes("--bun");
const rest = args.filter((a) => a !== "--bun");
const bin = join(root, "node_modules", ".bin", useBun ? "bun" : "deno");
const argv = useBun ? ["httpstat.ts", ...rest] : ["run", "-A", "httpstat.ts", ...rest];
const result = spawnSync(bin, argv, { cwd: root, stdio: "inherit" });
process.exit(result.status ?? 1);
