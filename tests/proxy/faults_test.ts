// Scripted proxies, byte by byte: the exact bytes we send (absolute-form, CONNECT, SOCKS5) and
// every way a proxy can fail (407, refused tunnel, close mid-tunnel, garbage, silence, refused
// connection, SOCKS reply codes).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type * as net from "node:net";
import { Client, type ProxyConnectDoneEvent, type WirefetchError } from "../../mod.ts";
import {
  delay,
  fixtures,
  readRequest,
  startHttpServer,
  startRawServer,
} from "../support/servers.ts";
import { freePort } from "../support/proxies.ts";

async function rejection(
  promise: Promise<unknown>,
): Promise<TypeError & { cause: WirefetchError }> {
  return await promise.then(
    () => assert.fail("expected the fetch to fail"),
    (error) => error,
  );
}

// Reads exactly n bytes from a raw socket (SOCKS5 scripts).
function bytes(socket: net.Socket): (n: number) => Promise<Uint8Array> {
  let buffered = new Uint8Array(0);
  let waiter: (() => void) | null = null;
  socket.on("data", (chunk: Uint8Array) => {
    const joined = new Uint8Array(buffered.length + chunk.length);
    joined.set(buffered);
    joined.set(chunk, buffered.length);
    buffered = joined;
    waiter?.();
  });
  return async (n) => {
    while (buffered.length < n) await new Promise<void>((resolve) => (waiter = resolve));
    const out = buffered.slice(0, n);
    buffered = buffered.slice(n);
    return out;
  };
}

const RESPONSE = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

describe("HTTP proxy, scripted", () => {
  it("sends absolute-form with Host and Proxy-Authorization, and keeps the connection", async () => {
    const heads: string[] = [];
    const proxy = await startRawServer(async (socket) => {
      for (;;) {
        const request = await readRequest(socket);
        heads.push(request.head);
        socket.write(RESPONSE);
      }
    });
    const client = new Client({ proxy: proxy.url.replace("://", "://u%40x:p%3Aw@") });
    try {
      for (let i = 0; i < 2; i++) {
        const response = await client.fetch("http://example.test:8080/p?q=1#frag");
        assert.equal(await response.text(), "ok");
      }
      assert.equal(proxy.accepted, 1);
      const lines = heads[0].split("\r\n");
      assert.equal(lines[0], "GET http://example.test:8080/p?q=1 HTTP/1.1");
      assert.ok(lines.includes("host: example.test:8080"));
      assert.ok(lines.includes(`proxy-authorization: Basic ${btoa("u@x:p:w")}`));
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("sends the proxy's extra headers on CONNECT only, Proxy-Authorization first", async () => {
    let connect = "";
    const proxy = await startRawServer(async (socket) => {
      connect = (await readRequest(socket)).head;
      socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
    });
    const client = new Client({
      proxy: { url: proxy.url.replace("://", "://me:pw@"), headers: { "x-tenant": "blue" } },
    });
    try {
      const error = await rejection(client.fetch("https://example.test/"));
      assert.equal(error.cause.message, "Proxy refused to open a tunnel: 403 Forbidden");
      assert.equal(
        connect,
        "CONNECT example.test:443 HTTP/1.1\r\nhost: example.test:443\r\n" +
          `proxy-authorization: Basic ${btoa("me:pw")}\r\nx-tenant: blue\r\n\r\n`,
      );
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("names an IPv6 origin in brackets on CONNECT", async () => {
    let target = "";
    const proxy = await startRawServer(async (socket) => {
      target = (await readRequest(socket)).target;
      socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
    });
    const client = new Client({ proxy: proxy.url });
    try {
      const error = await rejection(client.fetch("https://[2001:db8::1]:8443/"));
      assert.equal(error.cause.code, "ERR_PROXY");
      assert.equal(target, "[2001:db8::1]:8443");
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("rejects a 407 as a TypeError naming proxy authentication, with the status in proxyconnectdone", async () => {
    const proxy = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write(
        "HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic\r\n" +
          "content-length: 0\r\n\r\n",
      );
    });
    const client = new Client({ proxy: proxy.url });
    const done: ProxyConnectDoneEvent[] = [];
    client.addEventListener("proxyconnectdone", (e) => done.push(e as ProxyConnectDoneEvent));
    try {
      const error = await rejection(client.fetch("https://example.test/"));
      assert.ok(error instanceof TypeError);
      assert.equal(error.cause.code, "ERR_PROXY");
      assert.equal(
        error.cause.message,
        "Proxy refused to open a tunnel: 407 Proxy Authentication Required",
      );
      assert.equal(done.length, 1);
      assert.equal(done[0].status, 407);
      assert.equal(done[0].error, error.cause);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("fails the TLS handshake when the proxy closes right after opening the tunnel", async () => {
    const proxy = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 Connection established\r\n\r\n");
      // The ClientHello arrives; the proxy drops the tunnel instead of relaying it.
      socket.once("data", () => socket.destroy());
    });
    const client = new Client({ proxy: proxy.url, tls: { ca: fixtures.ca } });
    try {
      const error = await rejection(client.fetch("https://localhost:1/"));
      assert.ok(error instanceof TypeError);
      assert.ok(
        ["ERR_TLS", "ERR_CONNECTION_RESET", "ERR_CONNECTION_CLOSED"].includes(error.cause.code),
        error.cause.code,
      );
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("fails a request whose tunnel closes mid-response with ERR_BODY_TRUNCATED", async () => {
    const origin = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
    });
    const proxy = await startRawServer(async (socket) => {
      // A SOCKS5 proxy that relays to the scripted origin by itself.
      const read = bytes(socket);
      await read(3);
      socket.write(new Uint8Array([5, 0]));
      await read(10);
      socket.write(new Uint8Array([5, 0, 0, 1, 127, 0, 0, 1, 0, 80]));
      const { connect } = await import("node:net");
      const upstream = connect({ host: "127.0.0.1", port: origin.port });
      socket.on("data", (chunk) => upstream.write(chunk));
      upstream.on("data", (chunk) => socket.write(chunk));
      upstream.on("end", () => socket.end());
      upstream.on("error", () => socket.destroy());
    });
    const client = new Client({ proxy: proxy.url.replace("http", "socks5") });
    try {
      const response = await client.fetch(`http://127.0.0.1:${origin.port}/`);
      const error = await rejection(response.text());
      assert.equal(error.cause.code, "ERR_BODY_TRUNCATED");
    } finally {
      await client.close();
      await proxy.close();
      await origin.close();
    }
  });

  it("reads a CONNECT answer that arrives byte by byte, with bare LF line ends", async () => {
    const origin = await startHttpServer((_req, res) => res.end("inside"), { tls: true });
    const proxy = await startRawServer(async (socket) => {
      await readRequest(socket);
      const { connect } = await import("node:net");
      const upstream = connect({ host: "127.0.0.1", port: origin.port });
      await new Promise((resolve) => upstream.once("connect", resolve));
      // Paused until piped: the ClientHello may come before the last byte's delay ends.
      socket.removeAllListeners("data");
      socket.pause();
      for (const byte of "HTTP/1.0 200 OK\nvia: test\n\n") {
        socket.write(byte);
        await delay(1);
      }
      socket.pipe(upstream);
      upstream.pipe(socket);
      upstream.on("error", () => socket.destroy());
    });
    const client = new Client({ proxy: proxy.url, tls: { ca: fixtures.ca } });
    try {
      const response = await client.fetch(`https://localhost:${origin.port}/`);
      assert.equal(await response.text(), "inside");
    } finally {
      await client.close();
      await proxy.close();
      await origin.close();
    }
  });

  it("says the answer is not HTTP when the proxy answers garbage", async () => {
    const proxy = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("SSH-2.0-OpenSSH_9.2\r\n");
    });
    const client = new Client({ proxy: proxy.url });
    try {
      const error = await rejection(client.fetch("https://example.test/"));
      assert.equal(error.cause.code, "ERR_PROXY");
      assert.match(error.cause.message, /not HTTP: "SSH-2.0-OpenSSH_9.2/);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("says the proxy closed the connection before answering CONNECT", async () => {
    const proxy = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.end();
    });
    const client = new Client({ proxy: proxy.url });
    try {
      const error = await rejection(client.fetch("https://example.test/"));
      assert.equal(error.cause.code, "ERR_PROXY");
      assert.match(error.cause.message, /closed the connection while we waited for the answer/);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("bounds a proxy that never answers CONNECT by connectTimeout", async () => {
    const proxy = await startRawServer((socket) => void socket.resume());
    const client = new Client({ proxy: proxy.url, connectTimeout: 100 });
    try {
      const error = await rejection(client.fetch("https://example.test/"));
      assert.equal(error.cause.code, "ERR_CONNECT_TIMEOUT");
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("fails with ERR_PROXY naming the proxy when nothing listens there", async () => {
    const port = await freePort();
    const client = new Client({ proxy: `http://127.0.0.1:${port}` });
    try {
      const error = await rejection(client.fetch("http://example.test/"));
      assert.equal(error.cause.code, "ERR_PROXY");
      assert.match(
        error.cause.message,
        new RegExp(`^cannot reach the proxy http://127.0.0.1:${port}`),
      );
      assert.equal((error.cause.cause as WirefetchError).code, "ERR_CONNECTION_REFUSED");
    } finally {
      await client.close();
    }
  });

  it("refuses an unsupported proxy protocol instead of going direct", async () => {
    const server = await startHttpServer((_req, res) => res.end("direct"));
    const client = new Client({ proxy: "socks4://127.0.0.1:1080" });
    try {
      await assert.rejects(client.fetch(server.url), (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /unsupported proxy protocol socks4:/);
        return true;
      });
      assert.equal(server.accepted, 0);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe("SOCKS5 proxy, scripted", () => {
  it("sends the name for socks5h, with RFC 1929 credentials", async () => {
    const received: number[][] = [];
    const proxy = await startRawServer(async (socket) => {
      const read = bytes(socket);
      received.push([...await read(4)]); // 05 02 00 02
      socket.write(new Uint8Array([5, 2]));
      const auth = [...await read(2)];
      auth.push(...await read(auth[1] + 1));
      auth.push(...await read(auth.at(-1)!));
      received.push(auth);
      socket.write(new Uint8Array([1, 0]));
      const head = [...await read(5)];
      head.push(...await read(head[4] + 2));
      received.push(head);
      socket.write(new Uint8Array([5, 0, 0, 3, 4, ...new TextEncoder().encode("host"), 0, 1]));
      await readRequest(socket);
      socket.write(RESPONSE);
    });
    const client = new Client({ proxy: proxy.url.replace("http://", "socks5h://ann:pw@") });
    try {
      assert.equal(await (await client.fetch("http://example.test:8080/")).text(), "ok");
      const name = [...new TextEncoder().encode("example.test")];
      assert.deepEqual(received, [
        [5, 2, 0, 2],
        [1, 3, ...new TextEncoder().encode("ann"), 2, ...new TextEncoder().encode("pw")],
        [5, 1, 0, 3, name.length, ...name, 0x1f, 0x90],
      ]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("resolves the name itself for socks5 and sends the address", async () => {
    let request: number[] = [];
    const proxy = await startRawServer(async (socket) => {
      const read = bytes(socket);
      await read(3);
      socket.write(new Uint8Array([5, 0]));
      request = [...await read(10)];
      socket.write(new Uint8Array([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      await readRequest(socket);
      socket.write(RESPONSE);
    });
    const client = new Client({
      proxy: proxy.url.replace("http", "socks5"),
      lookup: () => Promise.resolve([{ address: "10.1.2.3", family: 4 }]),
    });
    try {
      assert.equal(await (await client.fetch("http://example.test/")).text(), "ok");
      assert.deepEqual(request, [5, 1, 0, 1, 10, 1, 2, 3, 0, 80]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("turns a reply code into its meaning, and reports it in proxyconnectdone", async () => {
    // RFC 1928 §6 meanings; a code outside the table is named as unknown, with its number.
    const cases: [number, string][] = [
      [5, "connection refused"],
      [4, "host unreachable"],
      [2, "connection not allowed by ruleset"],
      [0x42, "unknown reply code"],
    ];
    const proxy = await startRawServer(async (socket, index) => {
      const read = bytes(socket);
      await read(3);
      socket.write(new Uint8Array([5, 0]));
      await read(10);
      socket.write(new Uint8Array([5, cases[index][0], 0, 1, 0, 0, 0, 0, 0, 0]));
    });
    const client = new Client({ proxy: proxy.url.replace("http", "socks5") });
    const statuses: (number | undefined)[] = [];
    client.addEventListener("proxyconnectdone", (e) => {
      statuses.push((e as ProxyConnectDoneEvent).status);
    });
    try {
      for (const [code, meaning] of cases) {
        const error = await rejection(client.fetch("http://127.0.0.1:9/"));
        assert.equal(error.cause.code, "ERR_PROXY");
        assert.equal(
          error.cause.message,
          `SOCKS5 proxy: the server could not connect: ${meaning} (reply ${code})`,
        );
      }
      assert.deepEqual(statuses, cases.map(([code]) => code));
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("says the server does not speak SOCKS5 when it answers something else", async () => {
    const proxy = await startRawServer((socket) => {
      socket.once("data", () => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
    });
    const client = new Client({ proxy: proxy.url.replace("http", "socks5") });
    try {
      const error = await rejection(client.fetch("http://127.0.0.1:9/"));
      assert.equal(error.cause.code, "ERR_PROXY");
      assert.match(error.cause.message, /does not speak SOCKS5 \(version byte 72\)/);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
