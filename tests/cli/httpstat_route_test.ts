// httpstat's route flags (curl's names): --proxy, --unix-socket, --cert/--key, --cacert,
// --resolve, and the proxy tunnel's box in the waterfall.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main, parseArgs } from "../../src/cli/httpstat.ts";
import { readRequest, startHttpServer, startRawServer } from "../support/servers.ts";

function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    write: (text) => void (out += text + "\n"),
    error: (text) => void (err += text + "\n"),
    color: false,
  });
  return { code, out, err };
}

describe("httpstat route flags", () => {
  it("parses --proxy, --unix-socket, --cert, --key, --cacert and --resolve", () => {
    const options = parseArgs([
      "--proxy",
      "socks5h://p:1080",
      "--unix-socket",
      "/run/x.sock",
      "--cert",
      "c.pem",
      "--key",
      "k.pem",
      "--cacert",
      "ca.pem",
      "--resolve",
      "example.test:443:127.0.0.1",
      "https://example.test/",
    ]);
    assert.deepEqual(options.route, {
      proxy: "socks5h://p:1080",
      unixSocket: "/run/x.sock",
      cert: "c.pem",
      key: "k.pem",
      cacert: "ca.pem",
      resolve: ["example.test:443:127.0.0.1"],
    });
    assert.throws(() => parseArgs(["--resolve", "nope"]), /host:port:address/);
  });

  it("goes through a CONNECT proxy with --proxy and --cacert, and shows the tunnel", async () => {
    const origin = await startHttpServer((_req, res) => res.end("tunnelled"), { tls: true });
    const targets: string[] = [];
    const proxy = await startRawServer(async (socket) => {
      targets.push((await readRequest(socket)).target);
      const upstream = net.connect({ host: "127.0.0.1", port: origin.port });
      await new Promise((resolve) => upstream.once("connect", resolve));
      socket.write("HTTP/1.1 200 Connection established\r\n\r\n");
      socket.removeAllListeners("data");
      socket.pipe(upstream);
      upstream.pipe(socket);
      upstream.on("error", () => socket.destroy());
    });
    try {
      const result = await run([
        "--proxy",
        proxy.url,
        "--cacert",
        fixturePath("ca.pem"),
        `https://localhost:${origin.port}/`,
      ]);
      assert.equal(result.code, 0, result.err);
      assert.deepEqual(targets, [`localhost:${origin.port}`]);
      assert.match(result.out, /Proxy Tunnel/);
      assert.match(result.out, /proxyconnect:/);
      assert.match(result.out, /Body: 9 bytes/);
    } finally {
      await proxy.close();
      await origin.close();
    }
  });

  it("resolves a name with --resolve", async () => {
    const server = await startHttpServer((req, res) => res.end(req.headers.host));
    try {
      const result = await run([
        "--resolve",
        `pinned.test:${server.port}:127.0.0.1`,
        `http://pinned.test:${server.port}/`,
      ]);
      assert.equal(result.code, 0, result.err);
      assert.match(result.out, new RegExp(`Connected to 127\\.0\\.0\\.1:${server.port}`));
    } finally {
      await server.close();
    }
  });

  it("talks to a unix socket with --unix-socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wirefetch-httpstat-"));
    const path = join(dir, "s.sock");
    const server = http.createServer((_req, res) => res.end("over unix"));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const result = await run(["--unix-socket", path, "http://docker/_ping"]);
      assert.equal(result.code, 0, result.err);
      assert.match(result.out, new RegExp(`Connected to ${path.replace(/[.]/g, "\\.")}`));
      assert.match(result.out, /Body: 9 bytes/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("presents a client certificate with --cert and --key", async () => {
    const { readFileSync } = await import("node:fs");
    const tls = await import("node:tls");
    const server = tls.createServer(
      {
        cert: readFileSync(fixturePath("server.pem")),
        key: readFileSync(fixturePath("server-key.pem")),
        ca: readFileSync(fixturePath("client-ca.pem")),
        requestCert: true,
        rejectUnauthorized: true,
      },
      async (socket) => {
        socket.on("error", () => {});
        const body = `hello ${socket.getPeerCertificate().subject?.CN}`;
        try {
          await readRequest(socket);
          socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        } catch {
          socket.destroy();
        }
      },
    );
    server.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), "wirefetch-httpstat-"));
    try {
      const result = await run([
        "--cert",
        fixturePath("client.pem"),
        "--key",
        fixturePath("client-key.pem"),
        "--cacert",
        fixturePath("ca.pem"),
        "-o",
        join(dir, "body"),
        `https://localhost:${port}/`,
      ]);
      assert.equal(result.code, 0, result.err);
      assert.equal(readFileSync(join(dir, "body"), "utf8"), "hello wirefetch test client");
    } finally {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names an unreadable --key file as a usage error", async () => {
    const result = await run([
      "--cert",
      fixturePath("client.pem"),
      "--key",
      fixturePath("missing-key.pem"),
      "https://localhost:1/",
    ]);
    // A key file that cannot be read is a usage error, named.
    assert.equal(result.code, 2);
    assert.match(result.err, /missing-key\.pem/);
  });
});
