// Content codings: every coding the runtime can decode, stacked codings, Accept-Encoding, the
// `decompress` option, coded errors for corrupt and truncated data, and bounded memory for bombs.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as zlib from "node:zlib";
import { Client, WirefetchError } from "../../mod.ts";
import { defaultAcceptEncoding } from "../../src/body/content_coding.ts";
import { delay, readRequest, type ReceivedRequest, startRawServer } from "../support/servers.ts";
import { closeBounded, withDeadline } from "../support/deadline.ts";

const runtime = globalThis as { Bun?: unknown; Deno?: unknown };
const zstdCompress = (zlib as { zstdCompressSync?: (data: Uint8Array) => Uint8Array })
  .zstdCompressSync;
// The runtimes that decode zstd: Bun and Deno (Node from 22.15; this suite runs on Node 20).
const decodesZstd = runtime.Bun !== undefined || runtime.Deno !== undefined;

type Reply = { headers: string; body: Uint8Array; close?: boolean };

/** A server answering each request with `route(request)`, on keep-alive connections. */
function serve(route: (request: ReceivedRequest) => Reply) {
  const requests: ReceivedRequest[] = [];
  return startRawServer(async (socket) => {
    while (!socket.destroyed) {
      const request = await readRequest(socket);
      requests.push(request);
      const reply = route(request);
      socket.write(`HTTP/1.1 200 OK\r\n${reply.headers}\r\n`);
      if (reply.close) socket.end(reply.body);
      else socket.write(reply.body);
    }
  }).then((server) => Object.assign(server, { requests }));
}

function coded(coding: string, body: Uint8Array): Reply {
  return {
    headers: `content-encoding: ${coding}\r\ncontent-length: ${body.length}\r\n`,
    body,
  };
}

async function bodyError(response: Response): Promise<unknown> {
  return await withDeadline(response.arrayBuffer()).then(
    () => assert.fail("expected the body to error"),
    (error) => error,
  );
}

function codeOf(error: unknown): string | undefined {
  assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
  const cause = (error as TypeError).cause;
  assert.ok(cause instanceof WirefetchError, `expected a WirefetchError cause, got ${cause}`);
  return cause.code;
}

const text = "wirefetch decodes content codings. ".repeat(4000);
const plain = new TextEncoder().encode(text);

describe("content codings", () => {
  it("decodes gzip, x-gzip, zlib and raw deflate and br, names in any case", async () => {
    const bodies: Record<string, [string, Uint8Array]> = {
      "/gzip": ["gzip", zlib.gzipSync(plain)],
      "/x-gzip": ["X-GZip", zlib.gzipSync(plain)],
      "/deflate": ["deflate", zlib.deflateSync(plain)],
      "/raw": ["Deflate", zlib.deflateRawSync(plain)],
      "/br": ["BR", zlib.brotliCompressSync(plain)],
    };
    const server = await serve((request) => coded(...bodies[request.target]));
    const client = new Client();
    try {
      for (const path of Object.keys(bodies)) {
        const response = await withDeadline(client.fetch(server.url + path));
        assert.equal(await withDeadline(response.text()), text, path);
        // Native fetch keeps the header as received.
        assert.equal(response.headers.get("content-encoding"), bodies[path][0]);
      }
      assert.equal(server.accepted, 1);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("decodes zstd where the runtime can, else passes it through with its header", async () => {
    // Node 20 has no zstd at all: the server sends bytes labelled zstd, which must arrive as is.
    const bytes = zstdCompress ? new Uint8Array(zstdCompress(plain)) : plain.subarray(0, 100);
    const server = await serve(() => coded("zstd", bytes));
    const client = new Client();
    try {
      const response = await withDeadline(client.fetch(server.url));
      const body = new Uint8Array(await withDeadline(response.arrayBuffer()));
      if (decodesZstd) assert.equal(new TextDecoder().decode(body), text);
      else assert.deepEqual(body, bytes);
      assert.equal(response.headers.get("content-encoding"), "zstd");
      assert.equal(defaultAcceptEncoding.includes("zstd"), runtime.Bun !== undefined);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("undoes stacked codings in reverse order, from one field or several", async () => {
    // "deflate, gzip": deflate was applied first, gzip last, so gzip is undone first.
    const stacked = zlib.gzipSync(zlib.deflateSync(plain));
    const server = await serve((request) =>
      request.target === "/one" ? coded("deflate, gzip", stacked) : {
        headers:
          `content-encoding: br\r\ncontent-encoding: identity, gzip\r\ncontent-length: ${0}\r\n`,
        body: new Uint8Array(0),
      }
    );
    const client = new Client();
    try {
      const response = await withDeadline(client.fetch(`${server.url}/one`));
      assert.equal(await withDeadline(response.text()), text);
      // Two fields, and an empty coded body: an empty body, not an error.
      const empty = await withDeadline(client.fetch(`${server.url}/two`));
      assert.equal(await withDeadline(empty.text()), "");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("undoes codings split over several fields, streamed", async () => {
    const big = new TextEncoder().encode("stacked and streamed ".repeat(100_000));
    const stacked = zlib.brotliCompressSync(zlib.gzipSync(big));
    const server = await serve(() => ({
      headers:
        `content-encoding: gzip\r\ncontent-encoding: br\r\ncontent-length: ${stacked.length}\r\n`,
      body: stacked,
    }));
    const client = new Client();
    try {
      const response = await withDeadline(client.fetch(server.url));
      assert.equal((await withDeadline(response.arrayBuffer())).byteLength, big.length);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("rejects more than five codings as a network error", async () => {
    let bytes: Uint8Array = plain;
    for (let i = 0; i < 6; i++) bytes = zlib.gzipSync(bytes);
    const server = await serve(() => coded("gzip, gzip, gzip, gzip, gzip, gzip", bytes));
    const client = new Client();
    try {
      const error = await withDeadline(client.fetch(server.url)).then(
        () => assert.fail("expected a rejection"),
        (e) => e,
      );
      assert.equal(codeOf(error), "ERR_CONTENT_DECODING");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("passes unknown codings through undecoded, all of them", async () => {
    const gz = zlib.gzipSync(plain);
    const server = await serve(() => coded("gzip, x-custom", gz));
    const client = new Client();
    try {
      const response = await withDeadline(client.fetch(server.url));
      assert.deepEqual(
        new Uint8Array(await withDeadline(response.arrayBuffer())),
        new Uint8Array(gz),
      );
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("sends the runtime's Accept-Encoding unless the request has one; identity for Range", async () => {
    const server = await serve(() => coded("identity", new Uint8Array(0)));
    const client = new Client();
    try {
      await (await withDeadline(client.fetch(server.url))).arrayBuffer();
      await (await withDeadline(
        client.fetch(server.url, { headers: { "Accept-Encoding": "gzip;q=1" } }),
      )).arrayBuffer();
      await (await withDeadline(client.fetch(server.url, { headers: { range: "bytes=0-" } })))
        .arrayBuffer();
      const sent = server.requests.map((r) => r.headers["accept-encoding"]);
      assert.deepEqual(sent, [defaultAcceptEncoding, "gzip;q=1", "identity"]);
      assert.match(defaultAcceptEncoding, /^gzip, /);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("decompress: false, on the client or per request, sends no Accept-Encoding and keeps the bytes", async () => {
    const gz = new Uint8Array(zlib.gzipSync(plain));
    const server = await serve(() => coded("gzip", gz));
    const raw = new Client({ decompress: false });
    const decoding = new Client();
    try {
      const a = await withDeadline(raw.fetch(server.url));
      assert.deepEqual(new Uint8Array(await a.arrayBuffer()), gz);
      const b = await withDeadline(decoding.fetch(server.url, { decompress: false }));
      assert.deepEqual(new Uint8Array(await b.arrayBuffer()), gz);
      const c = await withDeadline(raw.fetch(server.url, { decompress: true }));
      assert.equal(await c.text(), text);
      const sent = server.requests.map((r) => r.headers["accept-encoding"]);
      assert.deepEqual(sent, [undefined, undefined, defaultAcceptEncoding]);
      assert.throws(() => new Client({ decompress: "no" as unknown as boolean }), TypeError);
    } finally {
      await raw.close();
      await decoding.close();
      await server.close();
    }
  });

  it("errors the body with ERR_CONTENT_DECODING for corrupt and truncated data", async () => {
    const gz = zlib.gzipSync(plain);
    const corrupt = Uint8Array.from(gz);
    corrupt[gz.length >> 1] ^= 0xff;
    corrupt[(gz.length >> 1) + 1] ^= 0xff;
    const bodies: Record<string, [string, Uint8Array]> = {
      "/corrupt": ["gzip", corrupt],
      "/not-gzip": ["gzip", new TextEncoder().encode("not gzip!")],
      "/truncated-gzip": ["gzip", gz.subarray(0, gz.length - 8)],
      "/truncated-deflate": ["deflate", zlib.deflateSync(plain).subarray(0, 200)],
      "/truncated-raw": ["deflate", zlib.deflateRawSync(plain).subarray(0, 200)],
      "/truncated-br": ["br", zlib.brotliCompressSync(plain).subarray(0, 20)],
    };
    const server = await serve((request) => coded(...bodies[request.target]));
    const client = new Client();
    try {
      for (const path of Object.keys(bodies)) {
        const response = await withDeadline(client.fetch(server.url + path));
        assert.equal(codeOf(await bodyError(response)), "ERR_CONTENT_DECODING", path);
      }
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("errors a large streamed body whose coded data is truncated, never a clean short end", async () => {
    // Bodies above 64 KiB take the streaming decoder (small ones are decoded in one call): the
    // transfer itself is complete (content-length matches), only the compressed data stops early.
    const noisy = new Uint8Array(512 * 1024);
    let x = 1;
    for (let i = 0; i < noisy.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      noisy[i] = x >>> 24;
    }
    const bodies: Record<string, [string, Uint8Array]> = {
      "/gzip": ["gzip", zlib.gzipSync(noisy)],
      "/gzip-no-trailer": ["gzip", zlib.gzipSync(noisy)],
      "/deflate": ["deflate", zlib.deflateSync(noisy)],
      "/br": ["br", zlib.brotliCompressSync(noisy)],
    };
    for (const [path, [, data]] of Object.entries(bodies)) {
      assert.ok(data.length > 128 * 1024, `${path} compresses to ${data.length} bytes`);
      bodies[path][1] = path === "/gzip-no-trailer"
        ? data.subarray(0, data.length - 8)
        : data.subarray(0, data.length >> 1);
    }
    const server = await serve((request) => coded(...bodies[request.target]));
    const client = new Client();
    try {
      for (const path of Object.keys(bodies)) {
        const response = await withDeadline(client.fetch(server.url + path));
        const error = await bodyError(response);
        assert.equal(codeOf(error), "ERR_CONTENT_DECODING", path);
        assert.equal((error as TypeError).message, "terminated", path);
      }
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("passes a truncated transfer's own error through the decoder", async () => {
    const gz = zlib.gzipSync(plain);
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${gz.length}\r\n\r\n`,
      );
      socket.end(gz.subarray(0, 100));
    });
    const client = new Client();
    try {
      const response = await withDeadline(client.fetch(server.url));
      assert.equal(codeOf(await bodyError(response)), "ERR_BODY_TRUNCATED");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("decodes a small body that inflates beyond 1 MiB as a stream, in pieces", async () => {
    // About 32 KiB of gzip, so it comes whole with the head; 32 MiB once inflated.
    const size = 32 * 1024 * 1024;
    const gz = zlib.gzipSync(new Uint8Array(size), { level: 9 });
    assert.ok(gz.length < 64 * 1024);
    const server = await serve(() => coded("gzip", gz));
    const client = new Client();
    try {
      const response = await withDeadline(client.fetch(server.url));
      const reader = response.body!.getReader();
      let total = 0;
      let largest = 0;
      for (;;) {
        const { done, value } = await withDeadline(reader.read());
        if (done) break;
        total += value.length;
        largest = Math.max(largest, value.length);
      }
      assert.equal(total, size);
      assert.ok(largest <= 1024 * 1024, `a piece of ${largest} bytes`);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("decodes a bomb with backpressure: an unread body never inflates whole", async () => {
    // 256 MiB of zeros is about 250 KiB of gzip; inflated at once it would take 256 MiB.
    const bomb = zlib.gzipSync(new Uint8Array(256 * 1024 * 1024), { level: 9 });
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${bomb.length}\r\n\r\n`,
      );
      socket.end(bomb);
    });
    const client = new Client();
    try {
      const before = process.memoryUsage().rss;
      const response = await withDeadline(client.fetch(server.url));
      const reader = response.body!.getReader();
      let largest = 0;
      let total = 0;
      for (let i = 0; i < 4; i++) {
        const { value } = await withDeadline(reader.read());
        largest = Math.max(largest, value!.length);
        total += value!.length;
      }
      // Give a decoder that ignores backpressure the time to inflate much more than was read.
      await delay(300);
      const grown = process.memoryUsage().rss - before;
      assert.ok(largest <= 1024 * 1024, `a chunk of ${largest} bytes`);
      assert.ok(total > 0);
      assert.ok(grown < 128 * 1024 * 1024, `memory grew by ${grown} bytes`);
      await reader.cancel();
    } finally {
      await closeBounded(client, [server]);
    }
  });
});
