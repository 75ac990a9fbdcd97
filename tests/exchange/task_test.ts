// A FetchTask is also each of its attempts: a retry or a redirect resets the attempt's state on
// the same object. These prove that a later attempt behaves as a fresh one would: it retries a
// stale connection, leaves the queue when aborted, and is not sent when a listener aborted it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, timingsOf } from "../../mod.ts";
import { readRequest, startHttpServer, startRawServer } from "../support/servers.ts";
import { closeBounded, eventually, rejectionWithin, withDeadline } from "../support/deadline.ts";

const OK = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

describe("fetch task attempts", () => {
  it("retries the redirected hop on a new connection when the reused one is stale", async () => {
    const targets: string[] = [];
    // Connection 0 serves a warm-up request and the redirect, then reads the redirected
    // request and closes without answering (a server whose idle timeout just fired).
    // Connection 1 answers the retry.
    const server = await startRawServer(async (socket, index) => {
      if (index === 0) {
        targets.push((await readRequest(socket)).target);
        socket.write(OK);
        targets.push((await readRequest(socket)).target);
        socket.write("HTTP/1.1 302 Found\r\nlocation: /b\r\ncontent-length: 3\r\n\r\nabc");
        targets.push((await readRequest(socket)).target);
        socket.destroy();
        return;
      }
      targets.push((await readRequest(socket)).target);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb");
    });
    const client = new Client();
    try {
      await (await withDeadline(client.fetch(`${server.url}/a`))).text();
      const response = await withDeadline(client.fetch(`${server.url}/r`));
      assert.equal(await response.text(), "b");
      assert.equal(response.redirected, true);
      assert.equal(response.url, `${server.url}/b`);
      assert.deepEqual(targets, ["/a", "/r", "/b", "/b"]);
      assert.equal(server.accepted, 2);
      // The marks are those of the attempt that answered: a new connection.
      assert.equal(timingsOf(response)?.reused, false);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("leaves the queue when aborted while its redirected hop waits for a connection", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const client = new Client({ maxConnectionsPerHost: 1 });
    const seen: string[] = [];
    const server = await startHttpServer(async (req, res) => {
      seen.push(req.url!);
      if (req.url === "/r") {
        // Answer the redirect only once /hold is queued behind it: the released connection
        // then goes to /hold first, and the redirected hop has to queue.
        await eventually(() => client.stats().total.queued === 1, 5000, "/hold queued");
        res.writeHead(302, { location: "/b" }).end();
        return;
      }
      if (req.url === "/hold") await gate;
      res.end(req.url);
    });
    try {
      const controller = new AbortController();
      const redirected = client.fetch(`${server.url}/r`, { signal: controller.signal });
      const held = client.fetch(`${server.url}/hold`);
      await eventually(
        () => seen.includes("/hold") && client.stats().total.queued === 1,
        5000,
        "the redirected hop queued",
      );
      controller.abort(new Error("gave up"));
      const error = await rejectionWithin(redirected, 5000, "the aborted fetch");
      assert.equal((error as Error).message, "gave up");
      assert.equal(client.stats().total.queued, 0);
      release();
      assert.equal(await (await withDeadline(held)).text(), "/hold");
      // The connection went idle rather than to the aborted hop: /b was never requested.
      assert.equal(await (await withDeadline(client.fetch(`${server.url}/c`))).text(), "/c");
      assert.deepEqual(seen, ["/r", "/hold", "/c"]);
      assert.equal(server.accepted, 1);
    } finally {
      release();
      await closeBounded(client, [server]);
    }
  });

  it("does not send the retry when a retry hook aborts the request", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write(OK);
      await readRequest(socket);
      socket.destroy();
    });
    const controller = new AbortController();
    const client = new Client({
      hooks: { retry: () => controller.abort(new Error("no retry")) },
    });
    try {
      await (await withDeadline(client.fetch(server.url))).text();
      const error = await rejectionWithin(
        client.fetch(server.url, { signal: controller.signal }),
        5000,
        "the aborted retry",
      );
      assert.equal((error as Error).message, "no retry");
      // No second connection was dialed for the aborted retry.
      assert.equal(server.accepted, 1);
      assert.equal(client.stats().total.connecting, 0);
    } finally {
      await closeBounded(client, [server]);
    }
  });
});
