// The runtime socket adapter (src/runtime): chunks handed to the listener are the listener's to
// keep. The Deno adapter reads into a slab it fills from front to back and hands out views of it,
// so these tests keep every chunk and check, after many later reads (across slabs, and through a
// bulk transfer), that none was overwritten.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type net from "node:net";
import { defaultConnector } from "../../src/runtime/connector.ts";
import type { Socket, SocketListener } from "../../src/runtime/socket.ts";
import type { WirefetchError } from "../../src/errors.ts";
import { type RawServer, startRawServer } from "../support/servers.ts";
import { within } from "../support/deadline.ts";

const isDeno = "Deno" in globalThis && !("Bun" in globalThis);

// Reply `i` of a test: `size` bytes, each a function of i and its position, so a reply whose bytes
// were overwritten by another's cannot compare equal.
function reply(i: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let k = 0; k < size; k++) bytes[k] = (i * 31 + k * 7) % 251;
  return bytes;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

// A server answering each line "SIZE\n" the client sends with reply(index, SIZE), one write each.
function replyServer(): ReturnType<typeof startRawServer> {
  return startRawServer((socket: net.Socket) => {
    let pending = "";
    let index = 0;
    socket.on("data", (data: Uint8Array) => {
      pending += new TextDecoder().decode(data);
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const size = Number(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        socket.write(reply(index++, size));
      }
    });
  });
}

// Keeps every chunk, and resolves `until(n)` once n bytes have arrived in total.
class KeepingListener implements SocketListener {
  chunks: Uint8Array[] = [];
  received = 0;
  error: WirefetchError | null = null;
  #waiting: { bytes: number; resolve: () => void; reject: (e: Error) => void } | null = null;
  onChunk: ((chunk: Uint8Array) => void) | null = null;

  onSocketData(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    this.onChunk?.(chunk);
    this.#check();
  }
  onSocketEnd(): void {
    this.#waiting?.reject(new Error("the server closed the connection"));
  }
  onSocketError(error: WirefetchError): void {
    this.error = error;
    this.#waiting?.reject(error);
  }
  until(bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting = { bytes, resolve, reject };
      this.#check();
    });
  }
  #check(): void {
    const waiting = this.#waiting;
    if (waiting !== null && this.received >= waiting.bytes) {
      this.#waiting = null;
      waiting.resolve();
    }
  }
}

async function connect(port: number): Promise<Socket> {
  return await within(
    defaultConnector().connect({ hostname: "127.0.0.1", port, tls: null }),
    5000,
    "connect",
  );
}

// Runs `test` with `count` sockets connected to a server from `start`, then closes the sockets
// and the server however the test ended (a connect that fails still closes the server).
async function withSockets<S extends RawServer>(
  start: () => Promise<S>,
  count: number,
  test: (sockets: Socket[], server: S) => Promise<void>,
): Promise<void> {
  const server = await start();
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < count; i++) sockets.push(await connect(server.port));
    await test(sockets, server);
  } finally {
    for (const socket of sockets) socket.close();
    await within(server.close(), 5000, "closing the server");
  }
}

// One socket to a replyServer, with a KeepingListener it does not listen to yet (some tests set
// the listener's onChunk first).
function withSocket(
  test: (fixture: { socket: Socket; listener: KeepingListener }) => Promise<void>,
): Promise<void> {
  return withSockets(
    replyServer,
    1,
    ([socket]) => test({ socket, listener: new KeepingListener() }),
  );
}

// Where two byte strings first differ, or -1: a plain deepEqual would spend seconds describing a
// mismatch in a megabyte.
function firstDifference(actual: Uint8Array, expected: Uint8Array): number {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) if (actual[i] !== expected[i]) return i;
  return actual.length === expected.length ? -1 : n;
}

const line = (size: number): Uint8Array => new TextEncoder().encode(`${size}\n`);

// Asks a replyServer for a reply of each size in turn, each one waited for before the next is
// asked; returns the bytes the replies should add up to.
async function askInTurn(
  socket: Socket,
  listener: KeepingListener,
  sizes: number[],
): Promise<Uint8Array> {
  const expected: Uint8Array[] = [];
  let total = 0;
  for (const [i, size] of sizes.entries()) {
    expected.push(reply(i, size));
    total += size;
    socket.write(line(size));
    await within(listener.until(total), 5000, `reply ${i} (${size} bytes)`);
  }
  return concat(expected);
}

describe("runtime socket adapter", () => {
  it("keeps every chunk's bytes intact through later reads into the same and new buffers", async () => {
    await withSocket(async ({ socket, listener }) => {
      socket.listen(listener);
      // 100 replies of 300 bytes, one at a time: several times the Deno adapter's read slab.
      const expected = await askInTurn(socket, listener, Array(100).fill(300));
      assert.equal(firstDifference(concat(listener.chunks), expected), -1);
    });
  });

  it("hands the listener plain Uint8Arrays, not Node Buffers (Bun and Node make Buffers)", async () => {
    await withSocket(async ({ socket, listener }) => {
      socket.listen(listener);
      socket.write(line(300));
      await within(listener.until(300), 5000, "the reply");
      for (const chunk of listener.chunks) {
        // A Buffer's `slice` is a view and its `toString` decodes: body chunks reach users, who
        // expect what native fetch hands out.
        assert.equal(Object.getPrototypeOf(chunk), Uint8Array.prototype);
      }
    });
  });

  it("keeps chunks intact across a bulk transfer and back to small reads", async () => {
    await withSocket(async ({ socket, listener }) => {
      socket.listen(listener);
      const expected = await askInTurn(socket, listener, [200, 1 << 20, 300, 5000, 100, 300]);
      assert.equal(firstDifference(concat(listener.chunks), expected), -1);
    });
  });

  it("delivers nothing more than the read in flight while paused, then everything intact", async () => {
    await withSocket(async ({ socket, listener }) => {
      let paused = false;
      listener.onChunk = () => {
        if (paused) return;
        paused = true;
        socket.pause();
      };
      socket.listen(listener);
      const size = 1 << 20;
      socket.write(line(size));
      await within(listener.until(1), 5000, "the first chunk");
      // The server's megabyte waits in the kernel meanwhile; a read already issued may complete.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const whilePaused = listener.chunks.length;
      assert.ok(whilePaused <= 2, `${whilePaused} chunks arrived while paused`);
      assert.ok(listener.received < size);
      socket.resume();
      await within(listener.until(size), 5000, "the rest after resume()");
      assert.equal(firstDifference(concat(listener.chunks), reply(0, size)), -1);
    });
  });

  it("reads on after the listener transferred a chunk's buffer inside onSocketData", async () => {
    await withSocket(async ({ socket, listener }) => {
      const moved: Uint8Array[] = [];
      listener.onChunk = (chunk) => {
        // What a consumer that posts chunks to a worker does: the copy it gets must hold its bytes.
        const copy = structuredClone(chunk, { transfer: [chunk.buffer as ArrayBuffer] });
        moved.push(copy);
      };
      socket.listen(listener);
      const expected = await askInTurn(socket, listener, Array(5).fill(300));
      assert.equal(firstDifference(concat(moved), expected), -1);
    });
  });

  it(
    isDeno
      ? "fails the socket with ERR_SOCKET when a chunk's buffer is transferred during a read (Deno)"
      : "reads on when a chunk's buffer is transferred while the socket waits for more",
    async () => {
      await withSocket(async ({ socket, listener }) => {
        socket.listen(listener);
        socket.write(line(300));
        await within(listener.until(300), 5000, "first reply");
        // A read is pending now (on Deno, into the slab the first chunk views).
        const first = listener.chunks[0];
        const copy = structuredClone(first, { transfer: [first.buffer as ArrayBuffer] });
        assert.deepEqual(copy, reply(0, 300));
        socket.write(line(300));
        if (isDeno) {
          // The pending read's bytes went into the transferred buffer: never handed on as data.
          await assert.rejects(within(listener.until(600), 5000, "the error"), (error) => {
            assert.equal((error as WirefetchError).code, "ERR_SOCKET");
            assert.match((error as Error).message, /transferred/);
            return true;
          });
          assert.equal(listener.received, 300);
        } else {
          await within(listener.until(600), 5000, "second reply");
          assert.equal(firstDifference(concat(listener.chunks.slice(1)), reply(1, 300)), -1);
        }
      });
    },
  );
});

// A server that echoes every byte back, and remembers what each connection sent until it ended.
async function echoServer(): Promise<
  Awaited<ReturnType<typeof startRawServer>> & { received: Promise<Uint8Array>[] }
> {
  const received: Promise<Uint8Array>[] = [];
  const server = await startRawServer((socket: net.Socket) => {
    const chunks: Uint8Array[] = [];
    received.push(
      new Promise((resolve) => socket.once("close", () => resolve(concat(chunks)))),
    );
    socket.on("data", (data: Uint8Array) => {
      chunks.push(new Uint8Array(data));
      socket.write(data);
    });
  });
  return Object.assign(server, { received });
}

describe("runtime socket adapter writes while several sockets wait for replies", () => {
  // Bun defers small writes made while another socket is busy (ref'd) and writes them together
  // once the event loop turn's reads are done (src/runtime/bun.ts); the other adapters write at
  // once. Either way the bytes of one socket must leave in the order they were written.
  it("keeps small and large writes of one socket in order", async () => {
    await withSockets(echoServer, 2, async ([a, b]) => {
      const listener = new KeepingListener();
      a.listen(listener);
      b.listen(new KeepingListener());
      a.ref();
      b.ref();
      const pieces = [reply(1, 40), reply(2, 40_000), reply(3, 40), reply(4, 40)];
      b.write(reply(0, 10));
      for (const piece of pieces) await (a.write(piece) ?? Promise.resolve());
      const expected = concat(pieces);
      await within(listener.until(expected.length), 5000, "the echo");
      assert.equal(firstDifference(concat(listener.chunks), expected), -1);
    });
  });

  it("sends what was written right before close", async () => {
    await withSockets(echoServer, 2, async ([a, b], server) => {
      a.listen(new KeepingListener());
      b.listen(new KeepingListener());
      a.ref();
      b.ref();
      a.write(reply(5, 100));
      a.close();
      const sent = await within(server.received[0], 5000, "the server sees the close");
      assert.equal(firstDifference(sent, reply(5, 100)), -1);
    });
  });
});
