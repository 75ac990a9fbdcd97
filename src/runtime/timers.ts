/**
 * Timers that never keep the process alive: the client's deadlines (idle expiry, timeouts)
 * must not stop a script from exiting once its own work is done.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
const denoNs: any = (globalThis as any).Deno;

/** An opaque timer handle. */
export type TimerHandle = unknown;

/**
 * Calls `fn` after `ms` milliseconds without holding the event loop open.
 *
 * @example
 * ```ts
 * import { clearUnrefTimeout, setUnrefTimeout } from "./timers.ts";
 * const handle = setUnrefTimeout(() => console.log("late"), 1000);
 * clearUnrefTimeout(handle);
 * ```
 */
export function setUnrefTimeout(fn: () => void, ms: number): TimerHandle {
  const handle = setTimeout(fn, ms);
  if (typeof handle === "number") {
    // Deno returns numeric ids and exposes unref through the namespace.
    denoNs?.unrefTimer?.(handle);
  } else {
    (handle as { unref?: () => void }).unref?.();
  }
  return handle;
}

/**
 * Cancels a timer made by {@linkcode setUnrefTimeout}.
 *
 * @example
 * ```ts
 * import { clearUnrefTimeout, setUnrefTimeout } from "./timers.ts";
 * clearUnrefTimeout(setUnrefTimeout(() => {}, 10));
 * ```
 */
export function clearUnrefTimeout(handle: TimerHandle): void {
  clearTimeout(handle as number);
}
