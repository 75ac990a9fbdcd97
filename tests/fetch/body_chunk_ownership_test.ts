// A streamed body's chunks are the caller's, as native fetch's are: each owns its ArrayBuffer. The
// Deno socket adapter reads into slabs shared by consecutive reads (and on every runtime the parser
// cuts body chunks out of a read as views), so a chunk that reached the caller as such a view
// would share its `buffer` with other chunks and with the socket's next read. Transferring it
// (enqueueing it into a byte stream, posting it with `transfer`) would then detach the others:
// bytes silently gone, or the socket's pending read failing and the body with it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type net from "node:net";
import zlib from "node:zlib";
import { Client } from "../../mod.ts";
import { type RawServer, readRequestHead, startRawServer } from "../support/servers.ts";
import { closeBounded, within } from "../support/deadline.ts";

const PIECES = ["hello", " world", "!", " and more", " bytes"];
const BODY = PIECES.join("");

/**
 * Answers every request on its connection with a Content-Length body written one piece at a
 * time: each piece after the test called `next()`, so each arrives in a read of its own and the
 * body is streamed, never received whole.
 */
async function pacedServer(): Promise<RawServer & { next(): void }> {
  let next = (): void => {};
  const server = await startRawServer(async (socket: net.Socket) => {
    for (;;) {
      await readRequestHead(socket);
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\n\r\n${PIECES[0]}`);
      for (const piece of PIECES.slice(1)) {
        await new Promise<void>((resolve) => (next = resolve));
        socket.write(piece);
      }
    }
  });
  return Object.assign(server, { next: () => next() });
}

/** Reads a body to its end, letting the server send the next piece after each chunk. */
async function readChunks(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  next: () => void,
): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await within(reader.read(), 5000, "a body chunk");
    if (done) return chunks;
    chunks.push(value);
    next();
  }
}

const text = (chunks: Uint8Array[]): string =>
  chunks.map((chunk) => new TextDecoder().decode(chunk)).join("");

/**
 * Asserts that the body came in several `chunks`, each a plain Uint8Array owning its whole
 * ArrayBuffer, and that enqueueing them all into a byte stream (which transfers each one's
 * buffer) reads back as `expected`.
 */
async function assertOwnChunks(chunks: Uint8Array[], expected: string): Promise<void> {
  assert.ok(chunks.length > 1, "the body came in several chunks");
  for (const chunk of chunks) {
    // A kept chunk pins its own bytes only, not a read slab (4 KiB, 256 KiB in bulk mode) or
    // zlib's output buffer.
    assert.equal(chunk.buffer.byteLength, chunk.byteLength);
    // A plain Uint8Array, as native fetch gives (not a Node Buffer, whose slice is a view).
    assert.equal(Object.getPrototypeOf(chunk), Uint8Array.prototype);
  }
  const bytes = new ReadableStream({
    type: "bytes",
    start(controller): void {
      for (const chunk of chunks) controller.enqueue(chunk as Uint8Array<ArrayBuffer>);
      controller.close();
    },
  });
  assert.equal(await within(new Response(bytes).text(), 5000, "byte stream"), expected);
}

describe("a streamed body's chunks each own their ArrayBuffer", () => {
  it("keeps every byte when all chunks are enqueued into a byte stream (which transfers them)", async () => {
    const server = await pacedServer();
    const client = new Client();
    try {
      for (let round = 0; round < 2; round++) {
        const response = await within(client.fetch(server.url), 5000, "fetch");
        const chunks = await readChunks(response.body!.getReader(), server.next);
        assert.equal(text(chunks), BODY);
        await assertOwnChunks(chunks, BODY);
      }
      assert.equal(server.accepted, 1, "one connection, reused");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("leaves other chunks, later reads and the connection intact when one chunk's buffer is transferred", async () => {
    const server = await pacedServer();
    const client = new Client();
    try {
      const response = await within(client.fetch(server.url), 5000, "fetch");
      const reader = response.body!.getReader();
      const first = await within(reader.read(), 5000, "first chunk");
      const second = await within((server.next(), reader.read()), 5000, "second chunk");
      // Transfer the second chunk's buffer away, as posting it to a worker with `transfer` does,
      // while the socket waits for the next piece.
      const moved = structuredClone(second.value!, { transfer: [second.value!.buffer] });
      server.next();
      const rest = await readChunks(reader, server.next);
      assert.equal(text([first.value!, moved, ...rest]), BODY);
      // The connection is still good for the next request, and its reads touch no kept chunk.
      const again = await within(client.fetch(server.url), 5000, "second fetch");
      assert.equal(text(await readChunks(again.body!.getReader(), server.next)), BODY);
      assert.equal(text([first.value!, moved, ...rest]), BODY);
      assert.equal(server.accepted, 1, "one connection, reused");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  // node:zlib hands its output out as slices of one output buffer it keeps writing into.
  for (const coding of ["gzip", "deflate", "br"]) {
    it(`does so for a ${coding} body decoded as it streams, one chunk transferred, all enqueued`, async () => {
      const text = Array.from({ length: 20000 }, (_, i) => `line ${i} ${(i * 7919) % 10007}\n`)
        .join("");
      const plain = new TextEncoder().encode(text);
      const packed = coding === "gzip"
        ? zlib.gzipSync(plain)
        : coding === "deflate"
        ? zlib.deflateSync(plain)
        : zlib.brotliCompressSync(plain);
      let next = (): void => {};
      const server = await startRawServer(async (socket: net.Socket) => {
        await readRequestHead(socket);
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Encoding: ${coding}\r\n` +
            `Content-Length: ${packed.length}\r\n\r\n`,
        );
        for (let i = 0; i < packed.length; i += 4000) {
          socket.write(packed.subarray(i, i + 4000));
          await new Promise<void>((resolve) => (next = resolve));
        }
      });
      const client = new Client();
      try {
        const response = await within(client.fetch(server.url), 5000, "fetch");
        const reader = response.body!.getReader();
        const chunks: Uint8Array[] = [];
        for (;;) {
          next();
          const { done, value } = await within(reader.read(), 5000, "a decoded chunk");
          if (done) break;
          // The first one moved away, as posting it to a worker with `transfer` does.
          chunks.push(
            chunks.length === 0 ? structuredClone(value, { transfer: [value.buffer] }) : value,
          );
        }
        await assertOwnChunks(chunks, text);
      } finally {
        await closeBounded(client, [server]);
      }
    });
  }
});
