/**
 * Requests as an API client sends them: keep-alive GETs carrying three fields of the caller's
 * (a `Content-Type`, an `Authorization` bearer token and a custom field, spelled in mixed case),
 * the same on every request. The default mode's GETs carry none, so they never see the cost of
 * validating, lowercasing and encoding the caller's fields (or what the fetch glue saves by
 * recognising a head it sent before).
 *
 * @module
 */

import { fetchCandidate } from "../harness.ts";
import type { Mode } from "./types.ts";

const init: RequestInit = {
  headers: {
    "Content-Type": "application/json",
    Authorization: "Bearer abcdefghijklmnopqrstuvwxyz0123456789",
    "X-Request-Source": "bench",
  },
};

/** The fields mode. */
export const fieldsMode: Mode = {
  flag: "--fields",
  summary: "GETs with three caller fields (an API client's): native fetch vs wirefetch",
  fixed: (context) => [fetchCandidate("native", (url) => context.nativeFetch(url, init))],
  wirefetch: ({ mod, suffix }) => {
    const client = new mod.Client({ maxConnectionsPerHost: 16 });
    return [
      fetchCandidate(`wirefetch${suffix}`, (url) => client.fetch(url, init), () => client.close()),
    ];
  },
  ratios: [["wirefetch", "native"]],
  big: false,
};
