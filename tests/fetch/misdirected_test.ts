// 421 Misdirected Request on a reused connection: sent once more on a new connection (Fetch
// HTTP-network-or-cache fetch, step 10); on a new connection it is the response.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { readRequest, startRawServer } from "../support/servers.ts";
import { within } from "./helpers.ts";
import { closeBounded } from "../support/deadline.ts";

/** Connection 0 answers its first request with 200 and then 421s; later ones answer 200. */
async function misdirectingServer(): Promise<Awaited<ReturnType<typeof startRawServer>>> {
  return await startRawServer(async (socket, index) => {
    for (let n = 0;; n++) {
      await readRequest(socket);
      const misdirected = index === 0 && n > 0;
      const text = misdirected ? "wrong host" : `conn ${index}`;
      socket.write(
        `HTTP/1.1 ${misdirected ? "421 Misdirected Request" : "200 OK"}\r\n` +
          `content-length: ${text.length}\r\n\r\n${text}`,
      );
    }
  });
}

describe("421 Misdirected Request", () => {
  it("is retried once on a new connection when it came on a reused one", async () => {
    const server = await misdirectingServer();
    const client = new Client();
    const retries: string[] = [];
    client.addEventListener("retry", (e) => retries.push((e as Event & { reason: string }).reason));
    try {
      const first = await within(client.fetch(server.url), 5_000, "first");
      assert.equal(await within(first.text(), 5_000, "the body"), "conn 0");
      const second = await within(
        client.fetch(server.url, { method: "POST", body: "replayable" }),
        5_000,
        "second",
      );
      assert.equal(second.status, 200);
      assert.equal(await within(second.text(), 5_000, "the body"), "conn 1");
      assert.equal(server.accepted, 2);
      assert.deepEqual(retries, ["421"]);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("is the response when it came on a new connection, or the body is a stream", async () => {
    const server = await startRawServer(async (socket) => {
      for (;;) {
        await readRequest(socket);
        socket.write("HTTP/1.1 421 Misdirected Request\r\ncontent-length: 1\r\n\r\nx");
      }
    });
    const client = new Client();
    try {
      const fresh = await within(client.fetch(server.url), 5_000, "fresh");
      assert.equal(fresh.status, 421);
      await within(fresh.text(), 5_000, "the body");
      const stream = new ReadableStream<Uint8Array>({
        start(c): void {
          c.enqueue(new TextEncoder().encode("once"));
          c.close();
        },
      });
      const streamed = await within(
        client.fetch(server.url, { method: "POST", body: stream, duplex: "half" } as RequestInit),
        5_000,
        "streamed",
      );
      assert.equal(streamed.status, 421);
      await within(streamed.text(), 5_000, "the body");
      assert.equal(server.accepted, 1);
    } finally {
      await closeBounded(client, [server]);
    }
  });
});
