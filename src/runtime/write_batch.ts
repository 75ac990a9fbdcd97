/**
 * Write batching across sockets: small writes made while other connections wait for responses
 * are held and written together once the event loop turn's reads are done. The Bun adapter uses
 * it: it says when a socket starts and stops waiting for a response, offers its writes, and writes
 * what is released. The Deno adapter does not: measured there, holding cost more than it saved
 * (ARCHITECTURE.md, "Deno: writes not batched, measured").
 *
 * Why: with several requests in flight, the runtime delivers the replies that one poll found
 * one after the other, and each reply's continuation (the caller's next request) would write at
 * once, several microseconds of JavaScript apart. A server on the same machine then answers
 * each request and goes back to sleep before the next one comes, so every write pays a wake-up
 * of the server and often a preemption of this process. Writing them together after the reads,
 * as a loop over ready sockets does, wakes the server once per batch (issue #10; the numbers are
 * in ARCHITECTURE.md).
 *
 * The guards, each with a test: a write is held only while another socket also waits for a
 * response (a lone request goes out at once, adding no latency); a later write or a close of the
 * same socket sends the held bytes first (bytes stay in order); a flush that found a single
 * socket (replies arriving one per turn, as from a distant server) turns holding off for the
 * next {@linkcode DIRECT_WRITES_AFTER_LONE_FLUSH} writes.
 *
 * @module
 */

/** A socket whose writes may be held: the fields are this module's, the adapter writes. */
export interface BatchedWriter {
  /** Counted among the sockets waiting for a response. Set by this module only. */
  batchBusy: boolean;
  /** Bytes held until the flush, or null. Set by this module only. */
  batchHeld: Uint8Array | null;
  /**
   * Writes bytes released from the batch at once, behind anything the socket already has in
   * flight; nothing if the socket is closed. Nobody awaits the write: failures go to the
   * socket's listener as usual.
   */
  writeHeld(data: Uint8Array): void;
}

/** Writes up to this many bytes (a request head, a small body) may be held. */
export const HOLD_MAX_BYTES = 16 * 1024;

/** Writes made at once after a flush that found a single socket, before holding again. */
export const DIRECT_WRITES_AFTER_LONE_FLUSH = 64;

/**
 * The batching policy and its state: which sockets wait for a response and which hold a write.
 * Adapters share {@linkcode writeBatch}; tests make their own.
 *
 * @example
 * ```ts
 * import { type BatchedWriter, WriteBatch } from "./write_batch.ts";
 * const batch = new WriteBatch();
 * const writer = (): BatchedWriter => ({
 *   batchBusy: false,
 *   batchHeld: null,
 *   writeHeld: (data) => console.log(data.length),
 * });
 * const a = writer();
 * const b = writer();
 * batch.markBusy(a);
 * batch.markBusy(b);
 * console.log(batch.hold(a, new Uint8Array(10))); // true: written after this turn's reads
 * ```
 */
export class WriteBatch {
  /** Sockets waiting for a response. */
  #busy = 0;
  /** Sockets that held a write, in the order they held it. */
  #holders: BatchedWriter[] = [];
  /** The array the previous flush emptied, reused by the next one. */
  #spare: BatchedWriter[] = [];
  /** Whether a flush of {@linkcode #holders} is scheduled. */
  #flushScheduled = false;
  /** Writes to make at once before holding is tried again. */
  #directWrites = 0;
  /** Bound once: scheduling a flush allocates no closure. */
  #flush = (): void => this.flush();

  /**
   * Notes that `writer` waits for a response (its connection sent, or is sending, a request).
   * Idempotent.
   *
   * @example
   * ```ts
   * import { writeBatch } from "./write_batch.ts";
   * const writer = { batchBusy: false, batchHeld: null, writeHeld(): void {} };
   * writeBatch.markBusy(writer);
   * writeBatch.markIdle(writer);
   * ```
   */
  markBusy(writer: BatchedWriter): void {
    if (writer.batchBusy) return;
    writer.batchBusy = true;
    this.#busy++;
  }

  /**
   * Notes that `writer` no longer waits for a response (idle, paused or closed). Idempotent.
   *
   * @example
   * ```ts
   * import { writeBatch } from "./write_batch.ts";
   * writeBatch.markIdle({ batchBusy: false, batchHeld: null, writeHeld(): void {} });
   * ```
   */
  markIdle(writer: BatchedWriter): void {
    if (!writer.batchBusy) return;
    writer.batchBusy = false;
    this.#busy--;
  }

  /**
   * Offers a write: returns true if the bytes are held until the flush after this event loop
   * turn (the caller then treats them as written), false if the caller must write them now.
   * The caller must have released what `writer` held before ({@linkcode release}) and must have
   * no write of its own in flight, so the held bytes are next in line.
   *
   * @example
   * ```ts
   * import { WriteBatch } from "./write_batch.ts";
   * const batch = new WriteBatch();
   * const writer = { batchBusy: false, batchHeld: null, writeHeld(): void {} };
   * batch.markBusy(writer);
   * // A lone request is written at once.
   * console.log(batch.hold(writer, new Uint8Array(10))); // false
   * ```
   */
  hold(writer: BatchedWriter, data: Uint8Array): boolean {
    // Held only while another connection also waits for a response: more replies may come in
    // this turn, and their requests can go out together with this one.
    if (this.#busy < 2 || data.length > HOLD_MAX_BYTES) return false;
    if (this.#directWrites > 0) {
      this.#directWrites--;
      return false;
    }
    writer.batchHeld = data;
    this.#holders.push(writer);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // After the reads of this turn and the continuations they run (microtasks), before the
      // event loop waits for I/O again.
      setImmediate(this.#flush);
    }
    return true;
  }

  /**
   * Writes what `writer` holds, if anything: before a later write of the same socket (bytes
   * stay in order) and before it closes (the bytes go out, as they would have without holding).
   *
   * @example
   * ```ts
   * import { writeBatch } from "./write_batch.ts";
   * const writer = {
   *   batchBusy: false,
   *   batchHeld: new Uint8Array([1]),
   *   writeHeld: (data: Uint8Array): void => console.log(data),
   * };
   * writeBatch.release(writer); // Uint8Array(1) [ 1 ]
   * ```
   */
  release(writer: BatchedWriter): void {
    const data = writer.batchHeld;
    if (data === null) return;
    writer.batchHeld = null;
    writer.writeHeld(data);
  }

  /**
   * Writes what every socket holds, in the order they held it. Runs from `setImmediate` after
   * {@linkcode hold} held a write; a flush with nothing held does nothing.
   *
   * @example
   * ```ts
   * import { writeBatch } from "./write_batch.ts";
   * writeBatch.flush();
   * ```
   */
  flush(): void {
    this.#flushScheduled = false;
    const writers = this.#holders;
    this.#holders = this.#spare;
    let flushed = 0;
    for (let i = 0; i < writers.length; i++) {
      const writer = writers[i];
      if (writer.batchHeld === null) continue; // Released earlier by a write or a close.
      flushed++;
      this.release(writer);
    }
    writers.length = 0;
    this.#spare = writers;
    // One socket only: nothing was batched (replies come one per event loop turn), and holding
    // costs a turn per request for no gain.
    if (flushed === 1) this.#directWrites = DIRECT_WRITES_AFTER_LONE_FLUSH;
  }
}

/**
 * The batch the socket adapters share.
 *
 * @example
 * ```ts
 * import { writeBatch } from "./write_batch.ts";
 * writeBatch.flush();
 * ```
 */
export const writeBatch: WriteBatch = new WriteBatch();
