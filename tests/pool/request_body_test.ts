// Request bodies from streams of many tiny chunks: batched into few writes, and the event loop
// keeps turning while they are sent.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { readRequest, startRawServer } from "../support/servers.ts";
import { withDeadline } from "../support/deadline.ts";

const CHUNKS = 200_000;
const five = new TextEncoder().encode("abcde");

/** A stream of CHUNKS five-byte chunks, a thousand enqueued per pull; counts the pulled ones. */
function tinyChunks(counter: { pulled: number }): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(controller): void {
      for (let i = 0; i < 1000; i++) controller.enqueue(five);
      counter.pulled += 1000;
      if (counter.pulled >= CHUNKS) controller.close();
    },
  });
}

for (const sized of [false, true]) {
  describe(`request bodies of tiny chunks (${sized ? "Content-Length" : "chunked"})`, () => {
    it("are sent in batches, and the server gets bytes before the stream is drained", async () => {
      const counter = { pulled: 0 };
      let pulledAtFirstByte = -1;
      let received = 0;
      let bodyLength = -1;
      const server = await startRawServer(async (socket) => {
        socket.on("data", (data: Uint8Array) => {
          if (pulledAtFirstByte < 0) pulledAtFirstByte = counter.pulled;
          received += data.length;
        });
        const request = await readRequest(socket);
        bodyLength = request.body.length;
        socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      });
      const client = new Client();
      try {
        const headers: Record<string, string> = sized
          ? { "content-length": String(CHUNKS * 5) }
          : {};
        const response = await withDeadline(
          client.fetch(server.url, {
            method: "POST",
            body: tinyChunks(counter),
            headers,
            duplex: "half",
          } as RequestInit),
          20_000,
        );
        assert.equal(await response.text(), "ok");
        assert.equal(bodyLength, CHUNKS * 5);
        // The server ran while the body was still being produced.
        assert.ok(pulledAtFirstByte < CHUNKS, `first byte after ${pulledAtFirstByte} chunks`);
        // Batched: chunked framing per 64 KiB, not per five bytes (which would double the size).
        assert.ok(received < CHUNKS * 5 * 1.05, `${received} bytes on the wire`);
      } finally {
        await client.close();
        await server.close();
      }
    });
  });
}

describe("request bodies from a slow producer", () => {
  it("sends what was batched before waiting for the next chunk", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let step = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller): Promise<void> {
        step++;
        if (step === 1) controller.enqueue(five);
        else if (step === 2) {
          // Held until the server has seen the first chunk: a batcher that waited for more
          // would deadlock here.
          await gate;
          controller.enqueue(five);
        } else controller.close();
      },
    });
    const server = await startRawServer(async (socket) => {
      let seen = 0;
      socket.on("data", (data: Uint8Array) => {
        seen += data.length;
        if (seen > 0) release();
      });
      const request = await readRequest(socket);
      socket.end(
        `HTTP/1.1 200 OK\r\nx-length: ${request.body.length}\r\ncontent-length: 0\r\n\r\n`,
      );
    });
    const client = new Client();
    try {
      const response = await withDeadline(
        client.fetch(server.url, {
          method: "POST",
          body,
          duplex: "half",
        } as RequestInit),
        20_000,
      );
      assert.equal(response.headers.get("x-length"), "10");
      await response.arrayBuffer();
    } finally {
      await client.close();
      await server.close();
    }
  });
});
