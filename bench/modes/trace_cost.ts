/**
 * The cost of tracing: a client with a no-op listener on every trace event, and one with
 * listeners that are all removed again (the "nobody listening" case), against a plain client.
 *
 * @module
 */

import { fetchCandidate } from "../harness.ts";
import type { Mode } from "./types.ts";

/** The trace-cost mode. */
export const traceCostMode: Mode = {
  flag: "--trace-cost",
  summary: "wirefetch with a listener on every trace event, and with listeners removed, vs plain",
  wirefetch: ({ mod, suffix }) => {
    const plain = new mod.Client({ maxConnectionsPerHost: 16 });
    const traced = new mod.Client({ maxConnectionsPerHost: 16 });
    const removed = new mod.Client({ maxConnectionsPerHost: 16 });
    let seen = 0;
    const listener = (): void => {
      seen++;
    };
    for (const type of mod.TRACE_EVENT_TYPES) {
      traced.addEventListener(type, listener);
      removed.addEventListener(type, listener);
      removed.removeEventListener(type, listener);
    }
    return [
      fetchCandidate(`plain${suffix}`, (url) => plain.fetch(url), () => plain.close()),
      fetchCandidate(`traced${suffix}`, (url) => traced.fetch(url), () => {
        if (seen === 0) throw new Error("no trace event was delivered");
        return traced.close();
      }),
      fetchCandidate(`unlistened${suffix}`, (url) => removed.fetch(url), () => removed.close()),
    ];
  },
  ratios: [["traced", "plain"], ["unlistened", "plain"]],
  big: false,
};
