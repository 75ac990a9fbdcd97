// Socket options (localAddress, TCP keepalive), per-request keepalive: false, and preconnect.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import {
  Client,
  type ConnectStartEvent,
  type GotConnEvent,
  type WirefetchError,
} from "../../mod.ts";
import { install, uninstall } from "../../global.ts";
import { delay, readRequest, startHttpServer, startRawServer } from "../support/servers.ts";

const isDeno = "Deno" in globalThis && !("Bun" in globalThis);

// The kernel's timer for a local TCP port, from /proc/net/tcp: "02:000005D6" is the keepalive
// timer with its remaining time in clock ticks (USER_HZ, 100 per second).
function timerOf(localPort: number): { kind: number; ticks: number } | undefined {
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 6) continue;
    const port = parseInt(fields[1].split(":")[1], 16);
    if (port !== localPort) continue;
    const [kind, ticks] = fields[5].split(":");
    return { kind: parseInt(kind, 16), ticks: parseInt(ticks, 16) };
  }
  return undefined;
}

describe("socket options", () => {
  it("binds the outgoing socket to localAddress", async () => {
    const server = await startHttpServer((req, res) => res.end(req.socket.remoteAddress));
    const client = new Client({ localAddress: "127.0.0.2" });
    try {
      assert.equal(await (await client.fetch(server.url)).text(), "127.0.0.2");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("turns TCP keepalive on with a 15 s idle time (Deno: the system's), off with false", async () => {
    assert.ok(existsSync("/proc/net/tcp"), "this test reads Linux's /proc/net/tcp");
    const server = await startHttpServer((_req, res) => res.end("ok"));
    const on = new Client();
    const off = new Client({ tcpKeepAlive: false });
    try {
      const ports: number[] = [];
      for (const client of [on, off]) {
        client.addEventListener("gotconn", (e) => {
          ports.push((e as GotConnEvent).localAddress.port);
        });
        await (await client.fetch(server.url)).text();
      }
      const [withKeepAlive, without] = ports.map(timerOf);
      assert.equal(withKeepAlive?.kind, 2);
      if (isDeno) {
        // Deno.Conn.setKeepAlive takes no delay: Linux's default tcp_keepalive_time applies.
        const system = Number(readFileSync("/proc/sys/net/ipv4/tcp_keepalive_time", "utf8"));
        assert.ok(withKeepAlive!.ticks > 1500 && withKeepAlive!.ticks <= system * 100);
      } else {
        assert.ok(withKeepAlive!.ticks > 0 && withKeepAlive!.ticks <= 1500);
      }
      assert.equal(without?.kind, 0);
    } finally {
      await Promise.all([on.close(), off.close()]);
      await server.close();
    }
  });

  it("closes the connection after a request with keepalive: false (Bun's option)", async () => {
    const heads: string[] = [];
    const server = await startRawServer(async (socket) => {
      for (;;) {
        heads.push((await readRequest(socket)).head);
        socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      }
    });
    const client = new Client();
    try {
      assert.equal(await (await client.fetch(server.url, { keepalive: false })).text(), "ok");
      assert.equal(await (await client.fetch(server.url)).text(), "ok");
      assert.match(heads[0], /\r\nconnection: close\r\n/);
      assert.doesNotMatch(heads[1], /connection:/);
      assert.equal(server.accepted, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe("preconnect", () => {
  it("opens a connection ahead of time, with a dial's trace events, and the request reuses it", async () => {
    const server = await startHttpServer((_req, res) => res.end("ok"));
    const client = new Client();
    const events: string[] = [];
    client.addEventListener("connectstart", (e) => {
      const event = e as ConnectStartEvent;
      events.push(`${event.type} ${event.network} ${event.url}`);
    });
    let gotconn: GotConnEvent | undefined;
    client.addEventListener("gotconn", (e) => (gotconn = e as GotConnEvent));
    try {
      await client.preconnect(`${server.url}/`);
      // The server may see the connection a moment after the client (Bun).
      for (let i = 0; i < 200 && server.accepted === 0; i++) await delay(5);
      assert.equal(server.accepted, 1);
      assert.deepEqual(client.stats().total, {
        open: 1,
        idle: 1,
        active: 0,
        connecting: 0,
        queued: 0,
      });
      assert.deepEqual(events, [`connectstart tcp4 ${server.url}/`]);
      // A second preconnect finds the idle connection and dials nothing.
      await client.preconnect(server.url);
      assert.equal(await (await client.fetch(server.url)).text(), "ok");
      assert.equal(server.accepted, 1);
      assert.equal(gotconn?.wasIdle, true);
      assert.equal(events.length, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("rejects with the dial's error", async () => {
    const server = await startHttpServer(() => {});
    const port = server.port;
    await server.close();
    const client = new Client();
    try {
      const error = await client.preconnect(`http://127.0.0.1:${port}/`).then(
        () => assert.fail(),
        (e) => e as TypeError & { cause: WirefetchError },
      );
      assert.ok(error instanceof TypeError);
      assert.equal(error.cause.code, "ERR_CONNECTION_REFUSED");
    } finally {
      await client.close();
    }
  });

  it("is on the installed fetch as fetch.preconnect, as on Bun's", async () => {
    const server = await startHttpServer((_req, res) => res.end("ok"));
    const client = new Client();
    install(client);
    try {
      (globalThis.fetch as unknown as { preconnect(url: string): void }).preconnect(server.url);
      for (let i = 0; i < 200 && client.stats().total.idle === 0; i++) await delay(10);
      assert.equal(client.stats().total.idle, 1);
      assert.equal(await (await globalThis.fetch(server.url)).text(), "ok");
      assert.equal(server.accepted, 1);
    } finally {
      uninstall();
      await client.close();
      await server.close();
    }
  });
});
