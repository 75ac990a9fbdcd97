// A HAR of a request through a proxy tunnel: the tunnel's time is part of `connect`, so the
// phases still add up to the entry's time.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, timingsOf } from "../../mod.ts";
import { HarRecorder } from "../../har.ts";
import { startTinyproxy } from "../support/proxies.ts";
import { fixtures, startHttpServer } from "../support/servers.ts";

describe("HAR through a proxy", () => {
  it("counts the CONNECT tunnel in connect, with ssl inside it", async () => {
    const origin = await startHttpServer((_req, res) => res.end("via tunnel"), { tls: true });
    const proxy = await startTinyproxy();
    const client = new Client({ proxy: proxy.url, tls: { ca: fixtures.ca } });
    const recorder = new HarRecorder(client);
    try {
      const response = await client.fetch(`https://localhost:${origin.port}/`);
      assert.equal(await response.text(), "via tunnel");
      const t = timingsOf(response)!;
      const [entry] = recorder.toJSON().log.entries;
      assert.ok(t.proxy > 0);
      assert.equal(entry.timings.connect, t.connect + t.proxy + t.tls);
      assert.equal(entry.timings.ssl, t.tls);
    } finally {
      await client.close();
      await proxy.close();
      await origin.close();
    }
  });
});
