// Bodies release their connection by themselves; aborts destroy it at every phase.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../mod.ts";
import { delay, readRequest, startHttpServer, startRawServer } from "./support/servers.ts";
import { closeBounded } from "./support/deadline.ts";

function collectGarbage(): void {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else if (g.gc) g.gc();
  else throw new Error("run with --v8-flags=--expose-gc (Deno) or under Bun");
}

const big = "x".repeat(1024 * 1024);

describe("response bodies", () => {
  it("releases the connection before fetch resolves when the body came with the head", async () => {
    const server = await startHttpServer((_req, res) => res.end("small"));
    const client = new Client();
    try {
      const response = await client.fetch(server.url);
      assert.deepEqual(client.stats().total, {
        open: 1,
        idle: 1,
        active: 0,
        connecting: 0,
        queued: 0,
      });
      assert.equal(await response.text(), "small");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("puts the connection back before the final read of a streamed body resolves", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello");
      await delay(20);
      socket.write("world");
    });
    const client = new Client();
    try {
      const response = await client.fetch(server.url);
      assert.equal(client.stats().total.active, 1);
      const reader = response.body!.getReader();
      let text = "";
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      assert.equal(text, "helloworld");
      // Checked synchronously after the read that returned done.
      assert.equal(client.stats().total.idle, 1);
      assert.equal(client.stats().total.active, 0);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("closes the connection when the body is cancelled", async () => {
    const server = await startHttpServer((_req, res) => res.end(big));
    const client = new Client();
    try {
      const response = await client.fetch(server.url);
      await response.body!.cancel();
      assert.equal(client.stats().total.open, 0);
      await (await client.fetch(server.url)).arrayBuffer();
      assert.equal(server.accepted, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reclaims the connection of a response garbage-collected unread", async () => {
    const server = await startHttpServer((_req, res) => res.end(big));
    const client = new Client();
    const leaks: Event[] = [];
    client.addEventListener("bodyleak", (event) => leaks.push(event));
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (message: string) => warnings.push(message);
    try {
      await (async () => {
        // The Response is dropped without reading or cancelling its body.
        const response = await client.fetch(server.url);
        assert.equal(response.status, 200);
      })();
      assert.equal(client.stats().total.active, 1);
      for (let i = 0; i < 20 && client.stats().total.open > 0; i++) {
        collectGarbage();
        await delay(20);
      }
      assert.equal(client.stats().total.open, 0);
      assert.equal(leaks.length, 1);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /garbage-collected/);
    } finally {
      console.warn = warn;
      // Bounded: if the connection was not reclaimed, close() would wait for it forever.
      await closeBounded(client, [server]);
    }
  });

  it("streams a body larger than the buffer with backpressure and reuses the connection", async () => {
    const size = 8 * 1024 * 1024;
    const server = await startHttpServer((_req, res) => {
      res.setHeader("content-length", size);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    const client = new Client();
    try {
      const response = await client.fetch(server.url);
      let total = 0;
      for await (const chunk of response.body!) {
        total += chunk.length;
        if (total < 1024 * 1024) await delay(1);
      }
      assert.equal(total, size);
      assert.equal(client.stats().total.idle, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe("abort", () => {
  it("rejects with the signal's reason while queued", async () => {
    const server = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 100));
    const client = new Client({ maxConnectionsPerHost: 1 });
    try {
      const first = client.fetch(server.url);
      await delay(5);
      const controller = new AbortController();
      const queued = client.fetch(server.url, { signal: controller.signal });
      await delay(5);
      assert.equal(client.stats().total.queued, 1);
      const reason = new Error("stop");
      controller.abort(reason);
      await assert.rejects(queued, (e) => e === reason);
      assert.equal(client.stats().total.queued, 0);
      await (await first).text();
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("rejects at once for an already aborted signal", async () => {
    const client = new Client();
    try {
      await assert.rejects(
        client.fetch("http://127.0.0.1:9/", { signal: AbortSignal.abort() }),
        (e: Error) => e.name === "AbortError",
      );
    } finally {
      await client.close();
    }
  });

  it("rejects while waiting for headers and destroys the connection", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
    });
    const client = new Client();
    try {
      const controller = new AbortController();
      const pending = client.fetch(server.url, { signal: controller.signal });
      await delay(20);
      controller.abort();
      await assert.rejects(pending, (e: Error) => e.name === "AbortError");
      assert.equal(client.stats().total.open, 0);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("rejects while writing a stream body", async () => {
    const server = await startRawServer(async (socket) => {
      await delay(200);
      socket.destroy();
    });
    const client = new Client();
    try {
      const controller = new AbortController();
      let cancelled = false;
      const body = new ReadableStream<Uint8Array>({
        pull: () => new Promise(() => {}),
        cancel() {
          cancelled = true;
        },
      });
      const pending = client.fetch(server.url, {
        method: "POST",
        body,
        signal: controller.signal,
        // @ts-ignore: Node's RequestInit wants this for streams.
        duplex: "half",
      });
      await delay(20);
      controller.abort();
      await assert.rejects(pending, (e: Error) => e.name === "AbortError");
      assert.equal(client.stats().total.open, 0);
      await delay(10);
      assert.equal(cancelled, true);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("errors a body stream in progress and never reuses the connection", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst");
    });
    const client = new Client();
    try {
      const controller = new AbortController();
      const response = await client.fetch(server.url, { signal: controller.signal });
      const reader = response.body!.getReader();
      const first = await reader.read();
      assert.equal(new TextDecoder().decode(first.value), "first");
      const reason = new Error("cancelled by user");
      controller.abort(reason);
      await assert.rejects(reader.read(), (e) => e === reason);
      assert.equal(client.stats().total.open, 0);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
