// TLS client options: mutual TLS (client and per request), servername, checkServerIdentity
// (pinning), rejectUnauthorized per request, NODE_TLS_REJECT_UNAUTHORIZED on Node and Bun.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type * as net from "node:net";
import * as tlsModule from "node:tls";
import { fileURLToPath } from "node:url";
import { Client, type PeerCertificate, type WirefetchError } from "../../mod.ts";
import { fixtures, type HttpServer, readRequest, startHttpServer } from "../support/servers.ts";
import { rejectionWithin } from "../support/deadline.ts";

function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)), "utf8");
}

const client = { cert: fixture("client.pem"), key: fixture("client-key.pem") };
const isDeno = "Deno" in globalThis && !("Bun" in globalThis);

interface MtlsServer {
  url: string;
  readonly accepted: number;
  close(): Promise<void>;
}

// A TLS server that requires a client certificate signed by the client CA and answers every
// request with the certificate's CN (node:tls, whose getPeerCertificate every runtime has).
async function startMtlsServer(): Promise<MtlsServer> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = tlsModule.createServer(
    {
      cert: fixtures.cert,
      key: fixtures.key,
      ca: fixture("client-ca.pem"),
      requestCert: true,
      rejectUnauthorized: true,
    },
    async (socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      const peer = socket.getPeerCertificate();
      const body = `hello ${peer.subject?.CN}`;
      try {
        for (;;) {
          await readRequest(socket);
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        }
      } catch {
        socket.destroy();
      }
    },
  );
  server.on("connection", (socket: net.Socket) => {
    accepted++;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `https://localhost:${port}`,
    get accepted(): number {
      return accepted;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function rejection(
  promise: Promise<unknown>,
): Promise<TypeError & { cause: WirefetchError }> {
  // Bounded: a refusal that never reaches the client (a swallowed alert) fails, not hangs.
  return await rejectionWithin(promise, 10_000, "the fetch") as TypeError & {
    cause: WirefetchError;
  };
}

describe("mutual TLS", () => {
  let server: MtlsServer;
  before(async () => {
    server = await startMtlsServer();
  });
  after(async () => {
    await server.close();
  });

  it("presents the client certificate given to the client, and reuses the connection", async () => {
    const c = new Client({ tls: { ca: fixtures.ca, ...client } });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal(await (await c.fetch(server.url)).text(), "hello wirefetch test client");
      }
    } finally {
      await c.close();
    }
  });

  it("is refused by the server without a certificate", async () => {
    const c = new Client({ caCerts: [fixtures.ca] });
    try {
      const error = await rejection(c.fetch(server.url).then((r) => r.text()));
      assert.ok(error instanceof TypeError);
      // TLS 1.3 finishes the client's handshake before the server checks the certificate, so
      // the refusal (an alert, then the close) may arrive as the request's answer.
      assert.ok(
        ["ERR_TLS", "ERR_CONNECTION_RESET", "ERR_CONNECTION_CLOSED"].includes(error.cause.code),
        `${error.cause.code}: ${error.cause.message}`,
      );
    } finally {
      await c.close();
    }
  });

  it("takes the certificate per request (Bun's fetch option) in a pool of its own", async () => {
    const c = new Client({ caCerts: [fixtures.ca] });
    try {
      const response = await c.fetch(server.url, { tls: client });
      assert.equal(await response.text(), "hello wirefetch test client");
      const again = await c.fetch(server.url, { tls: { ...client } });
      assert.equal(await again.text(), "hello wirefetch test client");
      assert.deepEqual(Object.keys(c.stats().origins), [`${server.url} tls#1`]);
      assert.equal(c.stats().total.open, 1);
    } finally {
      await c.close();
    }
  });
});

describe("server identity", () => {
  let server: HttpServer;
  before(async () => {
    server = await startHttpServer((_req, res) => res.end("ok"), { tls: true });
  });
  after(async () => {
    await server.close();
  });

  it("checks the certificate against servername instead of the URL's host", async () => {
    const c = new Client({ tls: { ca: fixtures.ca, servername: "localhost" } });
    try {
      // The URL names an address; the certificate is checked for "localhost".
      assert.equal(await (await c.fetch(server.url)).text(), "ok");
      const error = await rejection(
        c.fetch(server.url, { tls: { servername: "wrong.example" } }),
      );
      assert.equal(error.cause.code, "ERR_TLS");
    } finally {
      await c.close();
    }
  });

  it("lets checkServerIdentity accept a pinned certificate and refuse another", async () => {
    const seen: { host: string; cert: PeerCertificate }[] = [];
    const pin = (host: string, cert: PeerCertificate): Error | undefined => {
      seen.push({ host, cert });
      return undefined;
    };
    const refuse = (): Error => new Error("certificate pin mismatch");
    const c = new Client({ tls: { ca: fixtures.ca } });
    const url = server.url.replace("127.0.0.1", "localhost");
    try {
      assert.equal(await (await c.fetch(url, { tls: { checkServerIdentity: pin } })).text(), "ok");
      assert.equal(seen.length, 1);
      assert.equal(seen[0].host, "localhost");
      assert.match(String(seen[0].cert.fingerprint256), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      const error = await rejection(c.fetch(url, { tls: { checkServerIdentity: refuse } }));
      assert.equal(error.cause.code, "ERR_TLS");
      assert.match(error.cause.message, /certificate pin mismatch/);
      // The callback replaces the host name check (as in Node): a name the certificate does not
      // carry is the callback's call, but the chain is still verified.
      const renamed = await c.fetch(url, {
        tls: { servername: "other.example", checkServerIdentity: pin },
      });
      assert.equal(await renamed.text(), "ok");
      assert.equal(seen.at(-1)!.host, "other.example");
      const untrusted = new Client();
      try {
        const chain = await rejection(untrusted.fetch(url, { tls: { checkServerIdentity: pin } }));
        assert.equal(chain.cause.code, "ERR_TLS");
      } finally {
        await untrusted.close();
      }
    } finally {
      await c.close();
    }
  });

  it("skips verification for one request with rejectUnauthorized: false", async () => {
    const c = new Client();
    const url = server.url.replace("127.0.0.1", "localhost");
    try {
      const refused = await rejection(c.fetch(url));
      assert.equal(refused.cause.code, "ERR_TLS");
      const response = await c.fetch(url, { tls: { rejectUnauthorized: false } });
      assert.equal(await response.text(), "ok");
    } finally {
      await c.close();
    }
  });

  it("honours NODE_TLS_REJECT_UNAUTHORIZED=0 with a warning on Node and Bun, not on Deno", async () => {
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    let c: Client;
    try {
      c = new Client();
    } finally {
      console.warn = warn;
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
    }
    const url = server.url.replace("127.0.0.1", "localhost");
    try {
      if (isDeno) {
        assert.deepEqual(warnings, []);
        assert.equal((await rejection(c.fetch(url))).cause.code, "ERR_TLS");
      } else {
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], /NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate/);
        assert.equal(await (await c.fetch(url)).text(), "ok");
      }
    } finally {
      await c.close();
    }
  });
});
