// Routes as pool keys: what each route decides (target form, tunnel, headers), and that
// requests of different routes never share a connection.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { type RouteDefaults, Router } from "../../src/route/route.ts";
import { fixtures, readRequest, startHttpServer, startRawServer } from "../support/servers.ts";

const defaults: RouteDefaults = {
  proxy: undefined,
  unix: undefined,
  tls: {},
  localAddress: undefined,
  keepAlive: 15_000,
};

describe("routes", () => {
  it("decides the target form, the tunnel and the proxy's headers", () => {
    const router = new Router({ ...defaults, proxy: "http://u:p@proxy.test:3128" }, null);
    const plain = router.route(new URL("http://example.test/a"));
    assert.equal(plain.absoluteForm, true);
    assert.equal(plain.tunnel, false);
    assert.deepEqual(plain.requestHeaders, ["proxy-authorization", `Basic ${btoa("u:p")}`]);
    assert.equal(plain.key, "http://example.test via http://proxy.test:3128#1");
    const secure = router.route(new URL("https://example.test/"));
    assert.equal(secure.absoluteForm, false);
    assert.equal(secure.tunnel, true);
    // Proxy-Authorization goes on CONNECT, never inside the tunnel.
    assert.deepEqual(secure.requestHeaders, []);
    const socks = router.route(new URL("http://example.test/"), { proxy: "socks5://s.test" });
    assert.equal(socks.tunnel, true);
    assert.equal(socks.absoluteForm, false);
    assert.equal(socks.proxy?.port, 1080);
    const direct = router.route(new URL("http://example.test/"), { proxy: false });
    assert.equal(direct.proxy, null);
    assert.equal(direct.key, "http://example.test");
    const unix = router.route(new URL("http://docker/"), { unix: "/run/docker.sock" });
    assert.equal(unix.proxy, null);
    assert.equal(unix.absoluteForm, false);
    assert.equal(unix.key, "unix:/run/docker.sock http://docker");
  });

  it("returns the same route object for equal options, and numbers TLS profiles", () => {
    const router = new Router(defaults, null);
    const url = new URL("https://example.test/");
    const check = () => undefined;
    const a = router.route(url, { tls: { rejectUnauthorized: false, checkServerIdentity: check } });
    const b = router.route(url, { tls: { rejectUnauthorized: false, checkServerIdentity: check } });
    assert.equal(a, b);
    assert.equal(a.key, "https://example.test tls#1");
    assert.equal(router.route(url, { tls: { ca: fixtures.ca } }).key, "https://example.test tls#2");
    assert.equal(router.route(url).tls?.serverName, "example.test");
    assert.throws(() => router.route(url, { tls: { cert: "x" } }), /cert and tls.key/);
  });

  it("never hands a connection of one TLS profile to a request of another", async () => {
    const server = await startHttpServer((_req, res) => res.end("ok"), { tls: true });
    const client = new Client({ tls: { ca: fixtures.ca } });
    const url = server.url.replace("127.0.0.1", "localhost");
    try {
      await (await client.fetch(url)).text();
      await (await client.fetch(url, { tls: { servername: "localhost" } })).text();
      await (await client.fetch(url)).text();
      await (await client.fetch(url, { tls: { servername: "localhost" } })).text();
      assert.equal(server.accepted, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("lets a request go direct with proxy: false, or through its own proxy", async () => {
    const origin = await startHttpServer((_req, res) => res.end("direct"));
    const proxy = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nproxy");
    });
    const client = new Client({ proxy: proxy.url });
    const plainClient = new Client({ proxy: false });
    try {
      assert.equal(await (await client.fetch(origin.url)).text(), "proxy");
      assert.equal(await (await client.fetch(origin.url, { proxy: false })).text(), "direct");
      assert.equal(
        await (await plainClient.fetch(origin.url, { proxy: proxy.url })).text(),
        "proxy",
      );
    } finally {
      await Promise.all([client.close(), plainClient.close()]);
      await Promise.all([origin.close(), proxy.close()]);
    }
  });
});
