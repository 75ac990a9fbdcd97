/**
 * The abort wiring of a request: the listener that aborts it while it runs, and the one that
 * keeps listening once a complete but perhaps unread Response was handed out (the Fetch
 * standard's "abort the fetch" errors a body that is still readable).
 *
 * @module
 */

import type { RequestSpec } from "../request.ts";
import { ABORT, FetchResponse } from "../response.ts";

/**
 * The abort listener of a request, holding it weakly: a long-lived signal must not keep a
 * forgotten response's request (and so its connection) reachable, or the connection could never
 * be reclaimed.
 */
export class AbortLink implements EventListenerObject {
  #task: WeakRef<EventListenerObject>;
  /** Listens on behalf of `task`. */
  constructor(task: EventListenerObject) {
    this.#task = new WeakRef(task);
  }
  /** Passes the abort on, if the request still exists. */
  handleEvent(event: Event): void {
    this.#task.deref()?.handleEvent(event);
  }
}

/**
 * Keeps listening to the signal after the response is complete but perhaps unread: `text()`
 * and friends reject with the abort reason even when every byte had arrived. Holds the
 * Response (and a streamed body's controller) weakly, and is removed from the signal when the
 * Response is collected (`bodyLinks`), so a long-lived signal does not accumulate listeners.
 */
class BodyAbortLink implements EventListenerObject {
  #controller: WeakRef<ReadableStreamDefaultController<Uint8Array>> | null;
  #response: WeakRef<Response>;
  constructor(
    controller: ReadableStreamDefaultController<Uint8Array> | null,
    response: Response,
  ) {
    this.#controller = controller === null ? null : new WeakRef(controller);
    this.#response = new WeakRef(response);
  }
  handleEvent(event: Event): void {
    const reason = abortReason(event.target as AbortSignal);
    const response = this.#response.deref();
    if (response instanceof FetchResponse) response[ABORT](reason);
    try {
      this.#controller?.deref()?.error(reason);
    } catch {
      // Already read to the end or cancelled: nothing to abort.
    }
  }
}

const bodyLinks = new FinalizationRegistry<{ signal: AbortSignal; link: BodyAbortLink }>(
  ({ signal, link }) => signal.removeEventListener("abort", link),
);

/**
 * Wires `signal` to a complete Response whose body may still be unread (and to its stream's
 * controller, for a streamed body) until the Response is collected.
 */
export function watchBody(
  signal: AbortSignal,
  response: Response,
  controller: ReadableStreamDefaultController<Uint8Array> | null,
): void {
  const link = new BodyAbortLink(controller, response);
  signal.addEventListener("abort", link);
  bodyLinks.register(response, { signal, link });
}

/**
 * The reason an aborted signal rejects with: its `reason`, or an `AbortError` for the signals
 * of AbortController polyfills, which have none (never `undefined`).
 */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** Cancels a stream request body that nobody reads yet (a reader's cancel goes through it). */
export function cancelBody(spec: RequestSpec, reason: unknown): void {
  const body = spec.body;
  if (body !== null && body.kind === "stream" && !body.stream.locked) {
    body.stream.cancel(reason).catch(() => {});
  }
}
