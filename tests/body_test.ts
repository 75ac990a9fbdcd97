// Bodies release their connection by themselves; aborts destroy it at every phase.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../mod.ts";
import { delay, readRequest, startHttpServer, startRawServer } from "./support/servers.ts";
import { closeBounded, eventually, rejectionWithin, within } from "./support/deadline.ts";

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
      // Collection and the finalizer come when they come (Bun's collector is conservative, and a
      // loaded machine delays the finalizer's task): keep collecting, for a bounded while.
      for (let i = 0; i < 250 && client.stats().total.open > 0; i++) {
        collectGarbage();
        await delay(20);
      }
      assert.equal(client.stats().total.open, 0, "the unread response's connection reclaimed");
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
    // The first response is held on a gate: the second request stays queued however slow the
    // machine is, until the test has aborted it.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await startHttpServer((_req, res) => {
      arrived();
      gate.then(() => res.end("x"));
    });
    const client = new Client({ maxConnectionsPerHost: 1 });
    try {
      const first = client.fetch(server.url);
      await within(firstArrived, 5000, "the first request reaching the server");
      const controller = new AbortController();
      const queued = client.fetch(server.url, { signal: controller.signal });
      assert.equal(client.stats().total.queued, 1);
      const reason = new Error("stop");
      controller.abort(reason);
      assert.equal(await rejectionWithin(queued, 5000, "the aborted queued request"), reason);
      assert.equal(client.stats().total.queued, 0);
      release();
      await within((async () => (await first).text())(), 5000, "the first response");
    } finally {
      release();
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
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      arrived();
    });
    const client = new Client();
    try {
      const controller = new AbortController();
      const pending = client.fetch(server.url, { signal: controller.signal });
      // Aborted once the request is on the server: the phase is "waiting for headers" for sure.
      await within(requestArrived, 5000, "the request reaching the server");
      controller.abort();
      await assert.rejects(pending, (e: Error) => e.name === "AbortError");
      assert.equal(client.stats().total.open, 0);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("rejects while writing a stream body", async () => {
    // The server reads nothing and never closes: the abort is the only thing that can end the
    // request, whatever the machine's load (the test's cleanup closes the server).
    let accepted!: () => void;
    const connectionAccepted = new Promise<void>((resolve) => (accepted = resolve));
    const server = await startRawServer((socket) => {
      accepted();
      socket.pause();
      return new Promise(() => {});
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
      await within(connectionAccepted, 5000, "the connection reaching the server");
      controller.abort();
      const error = await rejectionWithin(pending, 5000, "the aborted upload") as Error;
      assert.equal(error.name, "AbortError");
      assert.equal(client.stats().total.open, 0);
      await eventually(() => cancelled, 2000, "the body stream's cancel");
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
