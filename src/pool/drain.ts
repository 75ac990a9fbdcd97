/**
 * The per-client budget for draining forgotten bodies into memory.
 *
 * When requests queue at `maxConnectionsPerHost` while a connection sits paused on a body nobody
 * reads, the pool reads that body into its stream's memory so the connection can serve the queue
 * (Go's transport drains on close "up to a conservative limit" for the same reason). The bytes
 * drained stay counted against the client's budget until the body is read again (its stream
 * pulls), cancelled, or garbage-collected; a body that would not fit is not drained, and its
 * connection stops counting against the cap instead.
 *
 * @module
 */

/** A client's drain budget: shared by all its origins. */
export interface DrainBudget {
  /** Most bytes drained into unread bodies at one time. */
  readonly limit: number;
  /** Bytes drained and not yet released. */
  used: number;
}

/** The bytes one body was drained by, until released. */
export class DrainRecord {
  /** Bytes drained into this body so far. */
  bytes = 0;
  #budget: DrainBudget;
  #released = false;

  /**
   * Creates the record of one drained body.
   *
   * @example
   * ```ts
   * import { DrainRecord } from "./drain.ts";
   * const record = new DrainRecord({ limit: 1024, used: 0 });
   * record.add(100);
   * record.release();
   * ```
   */
  constructor(budget: DrainBudget) {
    this.#budget = budget;
  }

  /** Counts `n` more drained bytes; false once the budget is exceeded. */
  add(n: number): boolean {
    if (this.#released) return true;
    this.bytes += n;
    this.#budget.used += n;
    return this.#budget.used <= this.#budget.limit;
  }

  /** Gives the bytes back to the budget (once). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#budget.used -= this.bytes;
    live--;
  }
}

// Bodies with drained bytes not yet released; while zero, releaseDrained costs one comparison.
let live = 0;
const records = new WeakMap<object, DrainRecord>();
const collected = new FinalizationRegistry<DrainRecord>((record) => record.release());

/**
 * Starts counting the bytes drained into the body of `exchange` against `budget`; released when
 * `exchange` is garbage-collected or {@linkcode releaseDrained} is called for it.
 *
 * @example
 * ```ts
 * import { releaseDrained, trackDrain } from "./drain.ts";
 * const exchange = {};
 * trackDrain(exchange, { limit: 1024, used: 0 }).add(10);
 * releaseDrained(exchange);
 * ```
 */
export function trackDrain(exchange: object, budget: DrainBudget): DrainRecord {
  const previous = records.get(exchange);
  if (previous !== undefined) return previous;
  const record = new DrainRecord(budget);
  records.set(exchange, record);
  collected.register(exchange, record, record);
  live++;
  return record;
}

/**
 * The consumer of `exchange`'s body read it again or cancelled it: its drained bytes no longer
 * count against the budget.
 *
 * @example
 * ```ts
 * import { releaseDrained } from "./drain.ts";
 * releaseDrained({});
 * ```
 */
export function releaseDrained(exchange: object): void {
  if (live === 0) return;
  const record = records.get(exchange);
  if (record === undefined) return;
  records.delete(exchange);
  collected.unregister(record);
  record.release();
}
