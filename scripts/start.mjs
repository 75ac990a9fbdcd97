// `npm start`: runs the demo on Deno (from devDependencies). Pass --bun to run it on Bun.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const useBun = process.argv.includes("--bun");
const bin = join(root, "node_modules", ".bin", useBun ? "bun" : "deno");
const args = useBun ? ["scripts/demo.ts"] : ["run", "-A", "scripts/demo.ts"];
const result = spawnSync(bin, args, { cwd: root, stdio: "inherit" });
process.exit(result.status ?? 1);
