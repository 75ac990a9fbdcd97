// The write batching policy (src/runtime/write_batch.ts), on a batch of its own and writers that
// record what they are asked to write: which writes are held, when and in which order held bytes
// go out, and when holding stops.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type BatchedWriter,
  DIRECT_WRITES_AFTER_LONE_FLUSH,
  WriteBatch,
} from "../../src/runtime/write_batch.ts";

// Every write a writer made, in order, across writers: [writer name, first byte].
type Log = [string, number][];

function writer(name: string, log: Log): BatchedWriter {
  return {
    batchBusy: false,
    batchHeld: null,
    writeHeld(data: Uint8Array): void {
      log.push([name, data[0]]);
    },
  };
}

// A batch of its own with a writer per name, each marked busy (waiting for a response) in order.
function busyWriters(
  ...names: string[]
): { batch: WriteBatch; log: Log; writers: BatchedWriter[] } {
  const batch = new WriteBatch();
  const log: Log = [];
  const writers = names.map((name) => writer(name, log));
  for (const w of writers) batch.markBusy(w);
  return { batch, log, writers };
}

// What an adapter does with a write (src/runtime/deno.ts, bun.ts): release what the socket held,
// offer the write to the batch, and write it at once if the batch does not hold it.
function write(batch: WriteBatch, w: BatchedWriter, log: Log, name: string, byte: number): void {
  if (w.batchHeld !== null) batch.release(w);
  if (!batch.hold(w, new Uint8Array([byte]))) log.push([name, byte]);
}

// Resolves after the event loop turn in which it is called: a flush scheduled before it has run.
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe("write batching across sockets", () => {
  it("writes a lone request at once: no other socket waits for a response", () => {
    const batch = new WriteBatch();
    const log: Log = [];
    const a = writer("a", log);
    const idle = writer("idle", log);
    batch.markBusy(a);
    write(batch, a, log, "a", 1);
    // An idle socket (pooled, or paused for backpressure) does not count.
    batch.markBusy(idle);
    batch.markIdle(idle);
    write(batch, a, log, "a", 2);
    assert.deepEqual(log, [["a", 1], ["a", 2]]);
    assert.equal(a.batchHeld, null);
  });

  it("holds writes while several sockets wait, and writes them after the turn in their order", async () => {
    const { batch, log, writers: [a, b, c] } = busyWriters("a", "b", "c");
    write(batch, b, log, "b", 1);
    write(batch, a, log, "a", 2);
    write(batch, c, log, "c", 3);
    assert.deepEqual(log, []);
    await nextTurn();
    assert.deepEqual(log, [["b", 1], ["a", 2], ["c", 3]]);
  });

  it("sends held bytes when the socket is released for a close, and not again at the flush", async () => {
    const { batch, log, writers: [a, b] } = busyWriters("a", "b");
    write(batch, a, log, "a", 1);
    write(batch, b, log, "b", 2);
    batch.release(a); // What an adapter's close() does first.
    batch.markIdle(a);
    assert.deepEqual(log, [["a", 1]]);
    await nextTurn();
    assert.deepEqual(log, [["a", 1], ["b", 2]]);
  });

  it("writes at once for a while after a flush that found a single socket", async () => {
    const { batch, log, writers: [a, b] } = busyWriters("a", "b");
    write(batch, a, log, "a", 0);
    await nextTurn();
    assert.deepEqual(log, [["a", 0]]);
    // Replies come one per turn (a distant server): holding would only add a turn per request.
    for (let i = 1; i <= DIRECT_WRITES_AFTER_LONE_FLUSH; i++) {
      write(batch, a, log, "a", i);
      assert.equal(log.length, i + 1, `write ${i} goes out at once`);
    }
    write(batch, b, log, "b", 99);
    assert.equal(log.length, DIRECT_WRITES_AFTER_LONE_FLUSH + 1, "then holding starts again");
    await nextTurn();
    assert.deepEqual(log.at(-1), ["b", 99]);
  });
});
