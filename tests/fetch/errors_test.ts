// The error shapes users' code detects: "fetch failed" and "terminated" TypeErrors with coded
// causes, abort reasons in every phase, and request body streams cancelled on abort.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { Client, WirefetchError } from "../../mod.ts";
import { readRequestHead, startRawServer } from "../support/servers.ts";
import { rejection, within } from "./helpers.ts";
import { closeBounded } from "../support/deadline.ts";

const nativeFetch = globalThis.fetch;

describe("network errors", () => {
  it('rejects with TypeError "fetch failed" whose cause is the coded WirefetchError', async () => {
    const server = await startRawServer(() => {});
    const url = server.url;
    await server.close();
    const client = new Client();
    try {
      const error = await rejection(client.fetch(url));
      assert.ok(error instanceof TypeError);
      assert.equal(error.message, "fetch failed");
      assert.ok(error.cause instanceof WirefetchError);
      assert.equal(error.cause.code, "ERR_CONNECTION_REFUSED");
    } finally {
      await client.close();
    }
  });

  it('errors a body that fails mid-read with TypeError "terminated" and a coded cause', async () => {
    const server = await startRawServer(async (socket) => {
      await readRequestHead(socket);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n");
      // Closed once the bytes are handed to the kernel: the head always arrives, the body never ends.
      socket.write("x".repeat(70_000), () => socket.destroy());
    });
    const client = new Client();
    try {
      const response = await within(client.fetch(server.url), 5_000, "the response");
      const error = await rejection(response.text());
      assert.ok(error instanceof TypeError);
      assert.equal(error.message, "terminated");
      assert.ok(error.cause instanceof WirefetchError);
      assert.equal(error.cause.code, "ERR_BODY_TRUNCATED");
    } finally {
      await closeBounded(client, [server]);
    }
  });
});

/** A signal as AbortController polyfills make them: no `reason`, and not an AbortSignal. */
class PolyfillSignal extends EventTarget {
  aborted = false;
  reason: unknown = undefined;
  onabort = null;
  throwIfAborted(): void {}
  abort(): void {
    this.aborted = true;
    this.dispatchEvent(new Event("abort"));
  }
}

describe("abort reasons", () => {
  it("rejects with an AbortError DOMException for a signal without a reason", async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await startRawServer(async (socket) => {
      await readRequestHead(socket); // and never answer
      arrived();
    });
    const client = new Client();
    try {
      const signal = new PolyfillSignal();
      const pending = client.fetch(server.url, { signal: signal as unknown as AbortSignal });
      await within(requestArrived, 5_000, "the request reaching the server");
      signal.abort();
      const error = await rejection(pending);
      assert.ok(error instanceof DOMException);
      assert.equal(error.name, "AbortError");

      const aborted = new PolyfillSignal();
      aborted.aborted = true;
      const early = await rejection(
        client.fetch(server.url, { signal: aborted as unknown as AbortSignal }),
      );
      assert.ok(early instanceof DOMException);
      assert.equal(early.name, "AbortError");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("rejects a signal that is not an AbortSignal with TypeError, as native fetch does", async () => {
    const client = new Client();
    try {
      for (const signal of [{}, "signal", 1]) {
        const init = { signal } as unknown as RequestInit;
        const ours = await rejection(client.fetch("http://127.0.0.1:9/", init));
        assert.ok(ours instanceof TypeError, String(ours));
        assert.match(ours.message, /AbortSignal/);
        const theirs = await rejection(nativeFetch("http://127.0.0.1:9/", init));
        assert.ok(theirs instanceof TypeError);
      }
    } finally {
      await client.close();
    }
  });

  it("rejects with the reason while resolving the host name", async () => {
    // A lookup slower than the signal (it fails later, so close() has nothing left to wait for).
    const client = new Client({
      lookup: () =>
        new Promise((_, reject) => setTimeout(() => reject(new Error("slow DNS")), 300)),
    });
    try {
      const error = await rejection(
        client.fetch("http://never.resolves.test/", { signal: AbortSignal.timeout(50) }),
      );
      assert.ok(error instanceof DOMException);
      assert.equal(error.name, "TimeoutError");
    } finally {
      await client.close();
    }
  });

  it("gives AbortSignal.timeout()'s TimeoutError during a stalled TLS handshake", async () => {
    // A TCP server that accepts and never speaks TLS: the handshake waits for its ServerHello.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const client = new Client();
    try {
      const error = await rejection(
        client.fetch(`https://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(100) }),
      );
      assert.ok(error instanceof DOMException, String(error));
      assert.equal(error.name, "TimeoutError");
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => server.close(r));
      await client.close();
    }
  });

  it("rejects an invalid request with its TypeError even when the signal was already aborted", async () => {
    const client = new Client();
    try {
      const signal = AbortSignal.abort();
      for (
        const init of [
          { method: "bad method", signal },
          { headers: { "x-a": "a\r\nb" }, signal },
          { method: "GET", body: "x", signal },
        ]
      ) {
        const error = await rejection(client.fetch("http://127.0.0.1:9/", init));
        assert.ok(error instanceof TypeError, String(error));
        assert.notEqual((error as Error).name, "AbortError");
      }
    } finally {
      await client.close();
    }
  });
});

describe("abort cancels a stream request body", () => {
  it("calls the body's cancel with the reason, synchronously, while it is being sent", async () => {
    let sawHead!: () => void;
    const headSeen = new Promise<void>((r) => (sawHead = r));
    const server = await startRawServer(async (socket) => {
      await readRequestHead(socket);
      sawHead(); // and never answer
    });
    const client = new Client();
    try {
      const cancelled: unknown[] = [];
      const body = new ReadableStream<Uint8Array>({
        start(controller): void {
          controller.enqueue(new TextEncoder().encode("first"));
        },
        pull(): Promise<void> {
          return new Promise(() => {}); // a producer that has nothing more yet
        },
        cancel(reason): void {
          cancelled.push(reason);
        },
      });
      const controller = new AbortController();
      const pending = client.fetch(server.url, {
        method: "POST",
        body,
        signal: controller.signal,
        duplex: "half",
      } as RequestInit);
      await within(headSeen, 5_000, "the request head");
      const reason = new Error("stop");
      controller.abort(reason);
      assert.deepEqual(cancelled, [reason]); // synchronously
      assert.equal(await rejection(pending), reason);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("cancels it synchronously inside fetch() when the signal was already aborted", async () => {
    const client = new Client();
    try {
      const cancelled: unknown[] = [];
      const body = new ReadableStream<Uint8Array>({
        cancel(reason): void {
          cancelled.push(reason);
        },
      });
      const reason = new Error("already");
      const pending = client.fetch("http://127.0.0.1:9/", {
        method: "POST",
        body,
        signal: AbortSignal.abort(reason),
        duplex: "half",
      } as RequestInit);
      assert.deepEqual(cancelled, [reason]);
      assert.equal(await rejection(pending), reason);

      // The same for the stream body of a Request.
      const fromRequest: unknown[] = [];
      const request = new Request("http://127.0.0.1:9/", {
        method: "POST",
        body: new ReadableStream<Uint8Array>({
          cancel(r): void {
            fromRequest.push(r);
          },
        }),
        duplex: "half",
      } as RequestInit);
      const viaRequest = client.fetch(request, { signal: AbortSignal.abort(reason) });
      assert.deepEqual(fromRequest, [reason]);
      assert.equal(await rejection(viaRequest), reason);
    } finally {
      await client.close();
    }
  });
});
