// install() makes third-party code that calls globalThis.fetch use wirefetch's pool.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { install, uninstall } from "../global.ts";
import { Client, defaultClient, type GotConnEvent } from "../mod.ts";
import { startHttpServer } from "./support/servers.ts";

/** "Third-party" code: knows nothing of wirefetch, calls the global fetch. */
async function thirdParty(url: string): Promise<string> {
  return await (await fetch(url)).text();
}

describe("global fetch", () => {
  it("routes third-party globalThis.fetch calls through the pool, with trace events", async () => {
    const server = await startHttpServer((req, res) => res.end(req.headers["user-agent"]));
    const native = globalThis.fetch;
    const client = new Client();
    const seen: string[] = [];
    client.addEventListener("gotconn", (e) => seen.push((e as GotConnEvent).type));
    client.addEventListener("responsedone", (e) => seen.push(e.type));
    try {
      const restore = install(client);
      assert.notEqual(globalThis.fetch, native);
      assert.match(await thirdParty(server.url), /^wirefetch\//);
      assert.match(await thirdParty(server.url), /^wirefetch\//);
      assert.deepEqual(seen, ["gotconn", "responsedone", "gotconn", "responsedone"]);
      assert.equal(client.stats().total.idle, 1);
      assert.equal(server.accepted, 1);
      restore();
      assert.equal(globalThis.fetch, native);
    } finally {
      uninstall();
      assert.equal(globalThis.fetch, native);
      await client.close();
      await server.close();
    }
  });

  it("installs the default client with no argument, and a new client from options", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const native = globalThis.fetch;
    try {
      install();
      await thirdParty(server.url);
      assert.ok(defaultClient.stats().origins[new URL(server.url).origin]);
      uninstall();
      install({ maxConnectionsPerHost: 2 });
      assert.notEqual(globalThis.fetch, native);
      assert.equal(await thirdParty(server.url), "x");
    } finally {
      uninstall();
      assert.equal(globalThis.fetch, native);
      defaultClient.closeIdle();
      await server.close();
    }
  });

  it("installs with one import of the ./install entry", async () => {
    const server = await startHttpServer((req, res) => res.end(req.headers["user-agent"]));
    try {
      const compiled = import.meta.url.endsWith(".js");
      const entry = new URL(compiled ? "../install.js" : "../install.ts", import.meta.url).href;
      const script = `import ${JSON.stringify(entry)};\n` +
        `const r = await fetch(${JSON.stringify(server.url)});\n` +
        `console.log(await r.text());`;
      const isBun = "Bun" in globalThis;
      const isDeno = "Deno" in globalThis && !isBun;
      const args = isDeno
        ? ["eval", "--ext=ts", script]
        : isBun
        ? ["-e", script]
        : ["--input-type=module", "-e", script];
      const output = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, args, { timeout: 20_000 }, (error, stdout, stderr) => {
          if (error) reject(new Error(stderr || String(error)));
          else resolve(stdout);
        });
      });
      assert.match(output, /^wirefetch\//);
    } finally {
      await server.close();
    }
  });
});
