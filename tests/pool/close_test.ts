// A close that cannot hang: destroy() ends everything, close({ timeout }) is bounded, and
// `await using` always finishes, also with unread bodies.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, WirefetchError } from "../../mod.ts";
import { readRequest, startHttpServer, startRawServer } from "../support/servers.ts";
import { withDeadline } from "../support/deadline.ts";

async function failure(promise: Promise<unknown>): Promise<WirefetchError> {
  const error = await withDeadline(promise).then(
    () => assert.fail("expected a rejection"),
    (e) => e,
  );
  assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
  assert.ok(error.cause instanceof WirefetchError);
  return error.cause;
}

/** Waits until `condition` holds, for at most about 10 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(condition(), "condition not reached in time");
}

const big = new Uint8Array(4 * 1024 * 1024).fill(120);

describe("client.destroy", () => {
  it("rejects requests in flight and queued, errors unread bodies, closes every socket", async () => {
    let open = 0;
    const server = await startRawServer(async (socket) => {
      open++;
      socket.once("close", () => open--);
      const request = await readRequest(socket);
      // "/body" gets a head and part of a body; the others never get an answer.
      if (request.target === "/body") {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`);
        socket.write(big.subarray(0, 1024));
      }
    });
    const client = new Client({ maxConnectionsPerHost: 2 });
    try {
      const response = await withDeadline(client.fetch(`${server.url}/body`));
      const inFlight = client.fetch(`${server.url}/hang`);
      const queued = client.fetch(`${server.url}/queued`);
      inFlight.catch(() => {});
      queued.catch(() => {});
      await until(() => client.stats().total.queued === 1 && server.accepted === 2);
      const reason = new Error("shutting down");
      client.destroy(reason);
      for (const pending of [inFlight, queued, response.arrayBuffer()]) {
        const cause = await failure(pending);
        assert.equal(cause.code, "ERR_CLIENT_DESTROYED");
        assert.equal(cause.cause, reason);
      }
      assert.deepEqual(client.stats().total, {
        open: 0,
        idle: 0,
        active: 0,
        connecting: 0,
        queued: 0,
      });
      assert.equal((await failure(client.fetch(server.url))).code, "ERR_CLIENT_CLOSED");
      // The server sees every connection closed.
      await until(() => open === 0);
    } finally {
      client.destroy();
      await server.close();
    }
  });
});

describe("client.close", () => {
  it("drains a small unread body and resolves; the response stays readable", async () => {
    const body = new Uint8Array(1024 * 1024).fill(97);
    const server = await startHttpServer((_req, res) => res.end(body));
    const client = new Client();
    try {
      const response = await withDeadline(client.fetch(server.url));
      // Let the body fill its stream and pause the connection.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await withDeadline(client.close());
      assert.equal(client.stats().total.open, 0);
      assert.equal((await withDeadline(response.arrayBuffer())).byteLength, body.length);
    } finally {
      await server.close();
    }
  });

  it("drains an unread body that fills its stream only after close() began", async () => {
    // Regression: close() drained only the bodies already paused when it was called; a body
    // still arriving then paused later, unread, and close() waited until garbage collection.
    // The server holds the rest of the body until close() has begun, so the order is certain.
    const first = new Uint8Array(64 * 1024).fill(97);
    const rest = new Uint8Array(1024 * 1024).fill(98);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = await startHttpServer((_req, res) => {
      res.setHeader("content-length", first.length + rest.length);
      res.write(first);
      gate.then(() => res.end(rest));
    });
    const client = new Client();
    try {
      const response = await withDeadline(client.fetch(server.url));
      const closing = client.close();
      release();
      await withDeadline(closing);
      assert.equal(client.stats().total.open, 0);
      const body = new Uint8Array(await withDeadline(response.arrayBuffer()));
      assert.equal(body.length, first.length + rest.length);
      assert.equal(body[body.length - 1], 98);
    } finally {
      release();
      await server.close();
    }
  });

  it("with a timeout, destroys what an unread body keeps open", async () => {
    const server = await startHttpServer((_req, res) => res.end(big));
    // A zero budget: the unread body cannot be drained, so a graceful close would wait for it.
    const client = new Client({ drainBudget: 0 });
    try {
      const response = await withDeadline(client.fetch(server.url));
      await withDeadline(client.close({ timeout: 100 }));
      assert.equal(client.stats().total.open, 0);
      assert.equal((await failure(response.arrayBuffer())).code, "ERR_CLIENT_DESTROYED");
      await assert.rejects(client.close({ timeout: -1 }), TypeError);
    } finally {
      client.destroy();
      await server.close();
    }
  });

  it("await using finishes with an unread body it could not drain", async () => {
    const server = await startHttpServer((_req, res) => res.end(big));
    let response: Response | null = null;
    let outer: Client | null = null;
    try {
      await withDeadline((async () => {
        await using client = new Client({ drainBudget: 0 });
        outer = client;
        response = await client.fetch(server.url);
      })());
      assert.equal(outer!.stats().total.open, 0);
      assert.equal((await failure(response!.arrayBuffer())).code, "ERR_CLIENT_DESTROYED");
    } finally {
      (outer as Client | null)?.destroy();
      await server.close();
    }
  });
});
