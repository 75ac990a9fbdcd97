/**
 * Bounded waits for tests: a test that waits on the network must fail with a message naming what
 * did not happen, never hang (the runners' per-test limit, scripts/test_runtimes.mjs, is the last
 * resort, not the plan).
 *
 * @module
 */

/** Resolves true when `promise` settles within `ms` milliseconds, false otherwise. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(() => true, () => true);
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}

/**
 * `promise`, or a rejection saying `what` did not happen within `ms` milliseconds.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The error `promise` rejects with; fails the test if it fulfils, or does not settle within
 * `ms` milliseconds (`what` names the awaited rejection in that message).
 */
export async function rejectionWithin(
  promise: Promise<unknown>,
  ms: number,
  what: string,
): Promise<unknown> {
  const outcome = await within(
    promise.then((value) => ({ value }), (error) => ({ error })),
    ms,
    `${what} should have rejected`,
  );
  if (!("error" in outcome)) throw new Error(`${what} should have rejected, but fulfilled`);
  return outcome.error;
}

interface Closable {
  close(): Promise<void>;
}

/**
 * Closes a client, then the servers, with a bound: `client.close()` is graceful and waits for
 * running requests, so when a test failed with a request still open (a response never
 * collected, a head that never came) it would wait forever. If the client has not closed within
 * `ms`, the servers are closed first (destroying their sockets ends those requests), then the
 * client gets another `ms`; a client that still does not close fails the test.
 */
export async function closeBounded(
  client: Closable,
  servers: readonly Closable[],
  ms = 2_000,
): Promise<void> {
  const closing = client.close();
  if (!await settlesWithin(closing, ms)) {
    for (const server of servers) await server.close();
    if (!await settlesWithin(closing, ms)) {
      throw new Error(`client.close() did not finish within ${2 * ms} ms, servers closed`);
    }
  }
  await closing;
  for (const server of servers) await server.close();
}

/**
 * Waits until `condition()` holds, checking every few milliseconds; fails with a message naming
 * `what` if it still does not hold after `ms` milliseconds. For state that changes on an event
 * the test cannot await directly (a pool closing an idle socket): the test waits for the event,
 * not for a guessed length of time.
 */
export async function eventually(
  condition: () => boolean,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * `promise`, or a rejection saying no answer came within `ms` milliseconds (10 s unless told):
 * the bound every network await in a test is raced against.
 */
export function withDeadline<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  return within(promise, ms, "no answer");
}
