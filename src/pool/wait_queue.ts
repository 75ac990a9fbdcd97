/**
 * A FIFO of requests waiting for a connection, with O(1) push and shift and removal of a waiter
 * that gave up (abort, timeout).
 *
 * @module
 */

/** A request waiting for a connection. */
export interface Waiter {
  /** When the waiter joined the queue (performance.now()), or -1 if it never queued. */
  queuedAt: number;
  /** When the waiter gives up (performance.now() based), or Infinity. */
  queueDeadline: number;
}

/**
 * A first-in, first-out queue of waiters.
 *
 * @example
 * ```ts
 * import { WaitQueue } from "./wait_queue.ts";
 * const queue = new WaitQueue<{ queuedAt: number; queueDeadline: number }>();
 * queue.push({ queuedAt: 0, queueDeadline: Infinity });
 * console.log(queue.length, queue.shift());
 * ```
 */
export class WaitQueue<T extends Waiter> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** The number of waiters. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds a waiter at the back; returns its 1-based position. */
  push(item: T): number {
    this.#items.push(item);
    return this.length;
  }

  /** The oldest waiter, without removing it. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** The waiter at 0-based position `index` from the front, if any. */
  at(index: number): T | undefined {
    return index < 0 ? undefined : this.#items[this.#head + index];
  }

  /** Removes and returns the oldest waiter. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Compact once the dead prefix dominates, so the array does not grow without bound.
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes a waiter wherever it is; returns whether it was queued. */
  remove(item: T): boolean {
    const index = this.#items.indexOf(item, this.#head);
    if (index < 0) return false;
    this.#items.splice(index, 1);
    return true;
  }

  /** Removes and returns every waiter. */
  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }
}
