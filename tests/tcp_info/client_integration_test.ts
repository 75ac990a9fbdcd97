// The client's tcpInfo option: snapshots at open and before close, and per-connection stats.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, type ConnCloseEvent, type GotConnEvent } from "../../mod.ts";
import { startHttpServer } from "../support/servers.ts";

// On every runtime: Deno and Bun through their FFI, Node through the npm package koffi.
describe("client tcpInfo option", () => {
  it("snapshots TCP_INFO at open and just before close, with consistent stats", async () => {
    const body = "y".repeat(100_000);
    const server = await startHttpServer((_req, res) => res.end(body));
    const client = new Client({ tcpInfo: true });
    const gotconns: GotConnEvent[] = [];
    const closes: ConnCloseEvent[] = [];
    client.addEventListener("gotconn", (e) => gotconns.push(e as GotConnEvent));
    client.addEventListener("connclose", (e) => closes.push(e as ConnCloseEvent));
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await (await client.fetch(server.url)).text()).length, body.length);
      }
      client.closeIdle();
      assert.equal(gotconns.length, 3);
      const open = gotconns[0].tcpInfo;
      assert.ok(open, "a new connection carries its open snapshot");
      assert.equal(open.state, "ESTABLISHED");
      assert.ok(open.rtt !== undefined && open.rtt > 0);
      assert.equal(gotconns[1].tcpInfo, undefined, "a reused connection carries none");
      assert.equal(closes.length, 1);
      const close = closes[0];
      assert.equal(close.reason, "client-closed");
      assert.ok(close.tcpInfo);
      assert.equal(close.tcpInfo.state, "ESTABLISHED");
      // The kernel saw at least what we read, and what we wrote was acknowledged (+1 for SYN).
      assert.ok(close.tcpInfo.bytesReceived! >= close.stats.bytesRead);
      assert.ok(close.tcpInfo.bytesAcked! >= close.stats.bytesWritten);
      assert.ok(close.stats.bytesRead > 3 * body.length);
      const s = close.stats;
      assert.equal(s.requestsServed, 3);
      assert.ok(s.openedAt <= s.firstWriteAt && s.firstWriteAt <= s.firstReadAt);
      assert.ok(s.firstReadAt <= s.lastReadAt && s.lastWriteAt <= s.lastReadAt);
      assert.ok(s.lastReadAt <= s.closedAt);
      assert.deepEqual(close.warnings, []);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("takes no snapshot without the option", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const client = new Client();
    let got: GotConnEvent | undefined;
    client.addEventListener("gotconn", (e) => (got = e as GotConnEvent));
    try {
      await (await client.fetch(server.url)).text();
      assert.equal(got?.tcpInfo, undefined);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
