/**
 * Happy Eyeballs v2 (RFC 8305) connection racing: addresses interleaved by family starting with
 * IPv6, a new attempt every 250 ms or as soon as one fails, the first TCP connection wins and
 * the others are abandoned.
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";
import { ABANDONED, type Socket } from "../runtime/socket.ts";
import type { LookupAddress } from "./resolve.ts";

/** RFC 8305 §5: the recommended Connection Attempt Delay. */
export const CONNECTION_ATTEMPT_DELAY = 250;

/** Observes the attempts of a race. */
export interface RaceObserver {
  /** An attempt begins. */
  onAttemptStart(address: LookupAddress): void;
  /** An attempt's TCP connection is up (it won) or failed. */
  onAttemptDone(address: LookupAddress, error: Error | undefined): void;
}

/**
 * Opens one connection to one address; calls `onTcpConnect` when TCP is up (see Socket), and
 * gives up when `signal` aborts (another attempt won, or the dial timed out).
 */
export type AttemptFunction = (
  address: LookupAddress,
  onTcpConnect: () => boolean,
  signal: AbortSignal,
) => Promise<Socket>;

/**
 * Orders addresses as RFC 8305 §4 says: alternate families, the preferred (IPv6) first.
 *
 * @example
 * ```ts
 * import { interleave } from "./happy_eyeballs.ts";
 * interleave([{ address: "1.1.1.1", family: 4 }, { address: "::1", family: 6 }]);
 * // [::1, 1.1.1.1]
 * ```
 */
export function interleave(addresses: readonly LookupAddress[]): LookupAddress[] {
  const v6 = addresses.filter((a) => a.family === 6);
  const v4 = addresses.filter((a) => a.family !== 6);
  const out: LookupAddress[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (i < v6.length) out.push(v6[i]);
    if (i < v4.length) out.push(v4[i]);
  }
  return out;
}

/**
 * Races connection attempts to `addresses` (already ordered) and resolves with the first
 * connection whose TCP handshake completes (and whose TLS handshake, if any, then succeeds).
 * Rejects with the last failure when every attempt fails.
 *
 * @example
 * ```ts ignore
 * const socket = await race(interleave(addresses), (address, onTcp) =>
 *   connector.connect({ hostname: address.address, port, tls, onTcpConnect: onTcp }));
 * ```
 */
export function race(
  addresses: readonly LookupAddress[],
  attempt: AttemptFunction,
  observer: RaceObserver | null,
  delay: number = CONNECTION_ATTEMPT_DELAY,
  signal?: AbortSignal,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const controllers: AbortController[] = [];
    const abortOthers = (keep: AbortController | null): void => {
      for (const c of controllers) if (c !== keep) c.abort();
    };
    signal?.addEventListener("abort", () => {
      if (timer !== undefined) clearTimeout(timer);
      next = addresses.length;
      // No attempt may win any more: a TCP connection that comes up late is abandoned.
      won = true;
      abortOthers(null);
      if (!settled) {
        settled = true;
        reject(new WirefetchError("ERR_SOCKET", ABANDONED));
      }
    }, { once: true });
    let next = 0;
    let running = 0;
    let won = false;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let lastError: unknown = new Error("no addresses to connect to");

    const finishIfExhausted = (): void => {
      if (!won && !settled && running === 0 && next >= addresses.length) {
        settled = true;
        reject(lastError);
      }
    };

    const start = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (won || settled || next >= addresses.length) return;
      const address = addresses[next++];
      let connected = false;
      running++;
      observer?.onAttemptStart(address);
      const controller = new AbortController();
      controllers.push(controller);
      attempt(address, () => {
        if (won) return false;
        won = true;
        connected = true;
        if (timer !== undefined) clearTimeout(timer);
        // The losers still waiting for TCP give up now instead of holding a socket for the
        // OS's connect timeout.
        abortOthers(controller);
        observer?.onAttemptDone(address, undefined);
        return true;
      }, controller.signal).then(
        (socket) => {
          running--;
          if (settled) {
            socket.close();
            return;
          }
          settled = true;
          resolve(socket);
        },
        (error) => {
          running--;
          if (connected) {
            // The winner failed after TCP (its TLS handshake): that is the race's outcome.
            if (!settled) {
              settled = true;
              reject(error);
            }
            return;
          }
          const abandoned = (error as Error)?.message === ABANDONED;
          observer?.onAttemptDone(address, error as Error);
          if (abandoned) return;
          lastError = error;
          // RFC 8305 §5: a failed attempt starts the next one at once.
          start();
          finishIfExhausted();
        },
      );
      if (next < addresses.length) timer = setTimeout(start, delay);
    };
    start();
  });
}
