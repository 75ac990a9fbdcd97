// Regressions found in review, each reproduced before its fix.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, type WirefetchError } from "../../mod.ts";
import { delay, readRequest, startHttpServer, startRawServer } from "../support/servers.ts";
import { closeBounded } from "../support/deadline.ts";

function collectGarbage(): void {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else if (g.gc) g.gc();
  else throw new Error("run with --expose-gc (Deno: --v8-flags=--expose-gc)");
}

async function* parts(): AsyncGenerator<string | Uint8Array> {
  yield "hello ";
  yield new TextEncoder().encode("world");
}

describe("review regressions", () => {
  it("resumes reading when the chunk that filled the body queue was its last", async () => {
    // Exactly the body stream's 256 KiB high-water mark, read late: the connection paused for
    // backpressure, then completed; back in the pool it must read again.
    const size = 256 * 1024;
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        const request = await readRequest(socket);
        if (request.target === "/big") {
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
          await delay(20);
          socket.write(new Uint8Array(size).fill(120));
        } else {
          socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
      }
    });
    const client = new Client({ headersTimeout: 2_000 });
    try {
      const response = await client.fetch(`${server.url}/big`);
      await delay(150);
      assert.equal((await response.arrayBuffer()).byteLength, size);
      const started = performance.now();
      assert.equal(await (await client.fetch(`${server.url}/next`)).text(), "ok");
      assert.ok(performance.now() - started < 1_000, "the reused connection answers at once");
      assert.equal(server.accepted, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("resolves every close() call", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      await delay(50);
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx");
    });
    const client = new Client();
    try {
      const pending = client.fetch(server.url);
      await delay(10);
      const first = client.close();
      const second = client.close();
      await (await pending).text();
      await Promise.all([first, second]);
    } finally {
      await server.close();
    }
  });

  it("sends a Request's real stream body at once and honours its abort", async () => {
    let received = 0;
    const server = await startRawServer((socket) => {
      socket.on("data", (d: Uint8Array) => (received += d.length));
    });
    const client = new Client();
    try {
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("first"));
          await delay(5_000);
          controller.close();
        },
      });
      const request = new Request(server.url, {
        method: "POST",
        body,
        // @ts-ignore: Node's RequestInit wants this for streams.
        duplex: "half",
      });
      const started = performance.now();
      const pending = client.fetch(request, { signal: AbortSignal.timeout(200) });
      await assert.rejects(pending, (e: Error) => e.name === "TimeoutError");
      assert.ok(performance.now() - started < 2_000);
      assert.ok(received > 0, "the head and first chunk went out before the stream ended");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reclaims a forgotten response even when its signal lives on", async () => {
    const server = await startHttpServer((_req, res) => res.end("x".repeat(1 << 20)));
    const client = new Client();
    const controller = new AbortController();
    let leaks = 0;
    client.addEventListener("bodyleak", () => leaks++);
    const warn = console.warn;
    console.warn = () => {};
    try {
      await (async () => {
        const response = await client.fetch(server.url, { signal: controller.signal });
        assert.equal(response.status, 200);
      })();
      // Bun's collector scans the native stack conservatively: churn some unrelated frames and
      // allocations between collections so a stale slot does not keep the response alive.
      for (let i = 0; i < 60 && leaks === 0; i++) {
        JSON.parse(JSON.stringify({ churn: Array.from({ length: 64 }, (_, k) => ({ k })) }));
        collectGarbage();
        await delay(20);
      }
      assert.equal(leaks, 1);
      assert.equal(client.stats().total.open, 0);
    } finally {
      console.warn = warn;
      // Bounded: if the connection was not reclaimed, close() would wait for it forever.
      await closeBounded(client, [server]);
    }
  });

  it("streams an async iterable body chunked", async () => {
    const server = await startRawServer(async (socket) => {
      const request = await readRequest(socket);
      const reply = `${request.headers["transfer-encoding"]}:${
        new TextDecoder().decode(request.body)
      }`;
      socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${reply.length}\r\n\r\n${reply}`);
    });
    const client = new Client();
    try {
      const response = await client.fetch(server.url, {
        method: "POST",
        body: parts() as unknown as BodyInit,
        // @ts-ignore: Node's RequestInit wants this for streams.
        duplex: "half",
      });
      assert.equal(await response.text(), "chunked:hello world");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("applies queueTimeout to requests queued at the cap, not to a slow dial", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    const client = new Client({
      queueTimeout: 50,
      lookup: async () => {
        await delay(150);
        return [{ address: "127.0.0.1", family: 4 as const }];
      },
    });
    try {
      const response = await client.fetch(`http://slow-dns.test:${server.port}/`);
      assert.equal(await response.text(), "ok");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("does not send a request aborted from a gotconn listener, and keeps the connection", async () => {
    let requests = 0;
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        await readRequest(socket);
        requests++;
        socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      }
    });
    const client = new Client();
    try {
      await (await client.fetch(server.url)).text();
      const controller = new AbortController();
      const trace = new EventTarget();
      trace.addEventListener("gotconn", () => controller.abort());
      await assert.rejects(
        client.fetch(server.url, { signal: controller.signal, trace }),
        (e: Error) => e.name === "AbortError",
      );
      await delay(20);
      assert.equal(requests, 1);
      assert.equal(client.stats().total.idle, 1);
      await (await client.fetch(server.url)).text();
      assert.equal(server.accepted, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("keeps a bare ? in the request target", async () => {
    let target = "";
    const server = await startRawServer(async (socket) => {
      target = (await readRequest(socket)).target;
      socket.end("HTTP/1.1 204 No Content\r\n\r\n");
    });
    const client = new Client();
    try {
      await client.fetch(`${server.url}/a?#frag?x`);
      assert.equal(target, "/a?");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("rejects malformed URL credentials with TypeError", async () => {
    const client = new Client();
    try {
      const error = await client.fetch("http://%E0%A4%A:pw@127.0.0.1:9/").then(
        () => assert.fail(),
        (e) => e,
      );
      assert.ok(error instanceof TypeError, String(error));
      assert.equal((error.cause as WirefetchError | undefined)?.code, undefined);
    } finally {
      await client.close();
    }
  });
});
