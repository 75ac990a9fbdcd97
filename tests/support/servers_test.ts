// Checks the test-support servers themselves, on Deno and Bun, before other tests rely on them.
// Clients here are plain node:net / node:tls / node:https so that a failure points at the support
// code, not at wirefetch.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as tls from "node:tls";
import {
  delay,
  fixtures,
  PeerClosedError,
  readRequest,
  readRequestHead,
  type ReceivedRequest,
  startHttpServer,
  startRawServer,
} from "./servers.ts";

const encoder = new TextEncoder();

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Everything the peer sends until it closes the connection. */
function readToEnd(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.once("error", reject);
    socket.once("close", () => resolve(text));
  });
}

/** Reads one response whose body is framed by Content-Length, leaving the connection open. */
function readResponse(socket: net.Socket): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Uint8Array): void => {
      text += String.fromCharCode(...chunk);
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return;
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
      if (text.length < end + 4 + length) return;
      socket.off("data", onData);
      resolve({ status: Number(text.slice(9, 12)), body: text.slice(end + 4, end + 4 + length) });
    };
    socket.on("data", onData);
    socket.once("error", reject);
  });
}

function httpsGet(url: string, options: https.RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get(url, options, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(body));
    }).once("error", reject);
  });
}

// One suite, so that every runtime counts these as it counts the others (Deno counts the
// cases of a suite as steps, a top-level case as a test: scripts/test.mjs reads the steps).
describe("test-support servers", () => {
  it("raw server: counts connections and reads heads split across writes", async () => {
    const server = await startRawServer(async (socket, index) => {
      const first = await readRequestHead(socket);
      const second = await readRequestHead(socket);
      socket.end(`${index}|${first}|${second}`);
    });
    try {
      assert.equal(server.url, `http://127.0.0.1:${server.port}`);
      const a = await connect(server.port);
      const aText = readToEnd(a);
      // The head arrives in pieces (CRLFCRLF itself split), and the second request rides in the
      // same write as the first one's end, so it must stay buffered for the next read.
      a.write("GET /one HT");
      await delay(20);
      a.write("TP/1.1\r\nHost: x\r\n\r");
      await delay(20);
      a.write("\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal(
        await aText,
        "0|GET /one HTTP/1.1\r\nHost: x\r\n\r\n|GET /two HTTP/1.1\r\nHost: x\r\n\r\n",
      );

      const b = await connect(server.port);
      const bText = readToEnd(b);
      b.write("GET /three HTTP/1.1\r\n\r\nGET /four HTTP/1.1\r\n\r\n");
      assert.match(await bText, /^1\|GET \/three/);
      assert.equal(server.accepted, 2);
    } finally {
      await server.close();
    }
  });

  it("readRequest: chunked body, then a Content-Length body on the same connection", async () => {
    let resolveRequests!: (requests: ReceivedRequest[]) => void;
    const received = new Promise<ReceivedRequest[]>((resolve) => (resolveRequests = resolve));
    const server = await startRawServer(async (socket) => {
      const requests = [await readRequest(socket), await readRequest(socket)];
      resolveRequests(requests);
      socket.end("HTTP/1.1 204 No Content\r\n\r\n");
    });
    try {
      const client = await connect(server.port);
      const done = readToEnd(client);
      const wire =
        "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Twice: a\r\n" +
        "x-twice: b\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n" +
        "PUT /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
      // Byte by byte for the first stretch, so every parser state sees a boundary.
      for (let i = 0; i < 90; i++) client.write(wire[i]);
      await delay(10);
      client.write(wire.slice(90));

      const [chunked, sized] = await received;
      assert.equal(chunked.method, "POST");
      assert.equal(chunked.target, "/upload");
      assert.equal(chunked.headers["transfer-encoding"], "chunked");
      assert.equal(chunked.headers["x-twice"], "a, b");
      assert.deepEqual(chunked.body, encoder.encode("hello world"));
      assert.equal(sized.method, "PUT");
      assert.equal(sized.head, "PUT /p HTTP/1.1\r\nContent-Length: 3\r\n\r\n");
      assert.deepEqual(sized.body, encoder.encode("abc"));
      assert.match(await done, /^HTTP\/1.1 204/);
    } finally {
      await server.close();
    }
  });

  it("read helpers reject with PeerClosedError when the client leaves mid-request", async () => {
    let resolveError!: (error: unknown) => void;
    const failure = new Promise<unknown>((resolve) => (resolveError = resolve));
    const server = await startRawServer((socket) => {
      readRequestHead(socket).then(() => resolveError(null), resolveError);
    });
    try {
      const client = await connect(server.port);
      client.end("GET / HTTP/1.1\r\nHo");
      const error = await failure;
      assert.ok(error instanceof PeerClosedError);
      assert.deepEqual(error.received, encoder.encode("GET / HTTP/1.1\r\nHo"));
    } finally {
      await server.close();
    }
  });

  it("raw server: close() destroys open connections so nothing hangs", async () => {
    const server = await startRawServer(() => {}); // never answers
    const client = await connect(server.port);
    const closed = readToEnd(client);
    await delay(20);
    assert.equal(server.sockets.size, 1);
    await server.close();
    await closed;
    assert.equal(server.sockets.size, 0);
    await server.close(); // a second close is harmless
  });

  it("raw TLS server: handshake with the fixture CA, and without it the client refuses", async () => {
    const server = await startRawServer(async (socket) => {
      const head = await readRequestHead(socket);
      socket.end(head.split(" ")[1]);
    }, { tls: true });
    try {
      assert.equal(server.url, `https://127.0.0.1:${server.port}`);
      const text = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect(
          { port: server.port, host: "127.0.0.1", ca: fixtures.ca },
          () => {
            socket.write("GET /secure HTTP/1.1\r\n\r\n");
          },
        );
        let text = "";
        socket.setEncoding("utf8");
        socket.on("data", (chunk: string) => (text += chunk));
        socket.once("error", reject);
        socket.once("close", () => resolve(text));
      });
      assert.equal(text, "/secure");

      await assert.rejects(
        new Promise<void>((resolve, reject) => {
          const socket = tls.connect({ port: server.port, host: "127.0.0.1" }, () => {
            socket.destroy();
            resolve();
          });
          socket.once("error", reject);
        }),
      );
      assert.equal(server.accepted, 2);
    } finally {
      await server.close();
    }
  });

  it("http server: keep-alive requests share one counted connection", async () => {
    const server = await startHttpServer((req, res) => {
      res.setHeader("content-length", String(req.url!.length));
      res.end(req.url);
    }, { keepAliveTimeout: 10_000 });
    try {
      const client = await connect(server.port);
      for (const path of ["/a", "/bb", "/ccc"]) {
        const response = readResponse(client);
        client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        assert.deepEqual(await response, { status: 200, body: path });
      }
      assert.equal(server.accepted, 1);

      // A node:http keep-alive agent is a second client, so a second connection, reused too.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (const path of ["/d", "/e"]) {
          const body = await new Promise<string>((resolve, reject) => {
            http.get(`${server.url}${path}`, { agent }, (res) => {
              let body = "";
              res.setEncoding("utf8");
              res.on("data", (chunk: string) => (body += chunk));
              res.on("end", () => resolve(body));
            }).once("error", reject);
          });
          assert.equal(body, path);
        }
      } finally {
        agent.destroy();
      }
      assert.equal(server.accepted, 2);

      // The first connection is still open and idle: close() must drop it rather than wait.
      const closed = readToEnd(client);
      const started = Date.now();
      await server.close();
      await closed;
      assert.ok(Date.now() - started < 2_000, "close() waited for an idle keep-alive connection");
    } finally {
      await server.close();
    }
  });

  it("https server: serves with the fixtures to a client that trusts the CA", async () => {
    const server = await startHttpServer((_req, res) => res.end("secure hello"), { tls: true });
    try {
      assert.equal(server.url, `https://127.0.0.1:${server.port}`);
      // By IP and by name: the certificate lists both.
      assert.equal(await httpsGet(server.url, { ca: fixtures.ca, agent: false }), "secure hello");
      assert.equal(
        await httpsGet(server.url, { ca: fixtures.ca, agent: false, servername: "localhost" }),
        "secure hello",
      );
      await assert.rejects(httpsGet(server.url, { agent: false }));
      assert.ok(server.accepted >= 2);
    } finally {
      await server.close();
    }
  });
});
