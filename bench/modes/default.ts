/**
 * The default mode: the raw socket loop (the ceiling), native fetch and wirefetch; keep-alive
 * GETs of a small body at each concurrency, and a 64 MiB streamed body. Reports wirefetch/raw
 * and wirefetch/native.
 *
 * @module
 */

import { fetchCandidate } from "../harness.ts";
import { rawCandidate } from "../raw.ts";
import type { Mode } from "./types.ts";

/** The default mode. */
export const defaultMode: Mode = {
  flag: "",
  summary: "raw socket loop vs native fetch vs wirefetch (c=1, c=16, 64 MiB stream)",
  fixed: (context) => [rawCandidate("raw"), fetchCandidate("native", context.nativeFetch)],
  wirefetch: ({ mod, suffix }) => {
    const client = new mod.Client({ maxConnectionsPerHost: 16 });
    return [fetchCandidate(`wirefetch${suffix}`, (url) => client.fetch(url), () => client.close())];
  },
  ratios: [["wirefetch", "raw"], ["wirefetch", "native"]],
  big: true,
};
