// tcpInfo in a Deno subprocess with and without --allow-ffi (and without --allow-read): it never
// throws, says why when it cannot read, and falls back to probing descriptors without a listing.
// The subprocess runs asynchronously (execFile) because its server lives in this process.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRawServer } from "../support/servers.ts";

// The repository root: the first directory up from here with a deno.json. On Node this file runs
// compiled under npm/test-build/, and the child must still be the TypeScript source run by Deno.
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("no deno.json above this test");
    dir = parent;
  }
  return dir;
}

const root = findRoot();
const deno = join(root, "node_modules", ".bin", "deno");
const child = join(root, "tests", "tcp_info", "child_tcp_info.ts");

interface ChildOutput {
  hasInfo: boolean;
  code: string | null;
  reason: string | null;
  state: string | null;
  bytesAcked: number | null;
  probed: number | null;
  unlistedScans: number | null;
}

async function runChild(permissions: string[]): Promise<ChildOutput> {
  const server = await startRawServer((socket) => {
    socket.on("data", (chunk: Uint8Array) => socket.write(chunk));
  });
  try {
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>(
      (resolve, reject) => {
        execFile(
          deno,
          ["run", "--quiet", ...permissions, child, String(server.port)],
          { cwd: root, timeout: 30_000, env: { ...process.env, NO_COLOR: "1" } },
          (error, stdout, stderr) => {
            if (error) reject(new Error(`child failed: ${error.message}\n${stderr}`));
            else resolve({ stdout: String(stdout), stderr: String(stderr) });
          },
        );
      },
    );
    assert.equal(stderr.trim(), "", "the child wrote to stderr");
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 1, stdout);
    return JSON.parse(lines[0]);
  } finally {
    await server.close();
  }
}

describe("tcpInfo permissions on Deno (subprocess)", () => {
  it("without --allow-ffi: no info, a PERMISSION reason naming the flag, no throw", async () => {
    const out = await runChild(["--allow-read", "--allow-net"]);
    assert.equal(out.hasInfo, false);
    assert.equal(out.code, "PERMISSION");
    assert.match(out.reason!, /--allow-ffi/);
    assert.equal(out.state, null);
  });

  it("with --allow-ffi but no read permission: finds the socket by probing descriptors", async () => {
    const out = await runChild(["--allow-ffi", "--allow-net"]);
    assert.equal(out.reason, null);
    assert.equal(out.state, "ESTABLISHED");
    assert.equal(out.bytesAcked, 6);
    // Probed by number from 0 and stopped at the match, well before the descriptor limit.
    assert.equal(out.unlistedScans, 1);
    assert.ok(out.probed! > 0 && out.probed! < 1000, `probed ${out.probed}`);
  });

  it("with all permissions: reads the connection", async () => {
    const out = await runChild(["--allow-all"]);
    assert.equal(out.hasInfo, true);
    assert.equal(out.unlistedScans, 0);
    assert.equal(out.state, "ESTABLISHED");
    assert.equal(out.bytesAcked, 6);
  });
});
