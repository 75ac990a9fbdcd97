// An https:// proxy: TLS to the proxy itself, absolute-form inside it for http origins, and a
// CONNECT tunnel with the origin's TLS inside the proxy's TLS for https origins.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { Client } from "../../mod.ts";
import { fixtures, readRequest, startHttpServer, startRawServer } from "../support/servers.ts";

describe("https proxy", () => {
  it("speaks TLS to the proxy and sends plain http in absolute-form inside it", async () => {
    const targets: string[] = [];
    const proxy = await startRawServer(async (socket) => {
      for (;;) {
        const request = await readRequest(socket);
        targets.push(`${request.target} ${request.headers["proxy-authorization"]}`);
        socket.write("HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nvia-tls");
      }
    }, { tls: true });
    const client = new Client({
      proxy: proxy.url.replace("https://", "https://u:p@"),
      tls: { ca: fixtures.ca },
    });
    try {
      for (let i = 0; i < 2; i++) {
        assert.equal(await (await client.fetch(`http://example.test/${i}`)).text(), "via-tls");
      }
      assert.deepEqual(targets, [
        `http://example.test/0 Basic ${btoa("u:p")}`,
        `http://example.test/1 Basic ${btoa("u:p")}`,
      ]);
      assert.equal(proxy.accepted, 1);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("runs the origin's TLS inside a CONNECT tunnel inside the proxy's TLS", async () => {
    const origin = await startHttpServer((req, res) => res.end(`origin ${req.url}`), { tls: true });
    const connects: string[] = [];
    const proxy = await startRawServer(async (socket) => {
      const request = await readRequest(socket);
      connects.push(request.target);
      const upstream = net.connect({ host: "127.0.0.1", port: origin.port });
      await new Promise((resolve) => upstream.once("connect", resolve));
      socket.write("HTTP/1.1 200 Connection established\r\n\r\n");
      socket.removeAllListeners("data");
      socket.on("data", (chunk) => upstream.write(chunk));
      upstream.on("data", (chunk) => socket.write(chunk));
      upstream.on("close", () => socket.destroy());
      upstream.on("error", () => socket.destroy());
    }, { tls: true });
    const client = new Client({ proxy: proxy.url, tls: { ca: fixtures.ca } });
    try {
      const url = `https://localhost:${origin.port}`;
      for (let i = 0; i < 3; i++) {
        assert.equal(await (await client.fetch(`${url}/${i}`)).text(), `origin /${i}`);
      }
      assert.deepEqual(connects, [`localhost:${origin.port}`]);
      assert.equal(origin.accepted, 1);
    } finally {
      await client.close();
      await proxy.close();
      await origin.close();
    }
  });
});
