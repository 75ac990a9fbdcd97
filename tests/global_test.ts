// install() makes third-party code that calls globalThis.fetch use wirefetch's pool.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { install, uninstall } from "../global.ts";
import { defaultClient } from "../mod.ts";
import { startHttpServer } from "./support/servers.ts";

describe("global fetch", () => {
  it("replaces and restores globalThis.fetch", async () => {
    const server = await startHttpServer((req, res) => res.end(req.headers["user-agent"]));
    const native = globalThis.fetch;
    try {
      const restore = install();
      assert.notEqual(globalThis.fetch, native);
      // "Third-party" code: knows nothing of wirefetch.
      const thirdParty = async (url: string) => (await fetch(url)).text();
      assert.match(await thirdParty(server.url), /^wirefetch\//);
      assert.ok(defaultClient.stats().origins[new URL(server.url).origin]);
      restore();
      assert.equal(globalThis.fetch, native);
      install({ maxConnectionsPerHost: 2 });
      assert.notEqual(globalThis.fetch, native);
    } finally {
      uninstall();
      assert.equal(globalThis.fetch, native);
      defaultClient.closeIdle();
      await server.close();
    }
  });
});
