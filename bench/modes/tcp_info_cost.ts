/**
 * The per-connection cost of the `tcpInfo` option: every request on a new connection, with
 * the two TCP_INFO snapshots (open and close) and the timestamps, and without.
 *
 * @module
 */

import { fetchCandidate } from "../harness.ts";
import type { Mode } from "./types.ts";

/** The tcp-info-cost mode. */
export const tcpInfoCostMode: Mode = {
  flag: "--tcp-info-cost",
  summary: "new connection per request, tcpInfo on vs off",
  wirefetch: ({ mod, suffix }) => {
    const options = { maxConnectionsPerHost: 16, maxRequestsPerConnection: 1 };
    const on = new mod.Client({ ...options, tcpInfo: true });
    const off = new mod.Client(options);
    return [
      fetchCandidate(`tcpInfo on${suffix}`, (url) => on.fetch(url), () => on.close()),
      fetchCandidate(`tcpInfo off${suffix}`, (url) => off.fetch(url), () => off.close()),
    ];
  },
  ratios: [["tcpInfo on", "tcpInfo off"]],
  big: false,
};
