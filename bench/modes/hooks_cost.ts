/**
 * The cost of trace hooks: a client with a hooks object implementing every hook against a plain
 * client (bench/trace_cost.ts measures the same with many short rounds).
 *
 * @module
 */

import { fetchCandidate } from "../harness.ts";
import type { Mode } from "./types.ts";

/** The hooks-cost mode. */
export const hooksCostMode: Mode = {
  flag: "--hooks-cost",
  summary: "wirefetch with a hooks object implementing every hook vs plain",
  wirefetch: ({ mod, suffix }) => {
    let seen = 0;
    const hooks: Record<string, () => void> = {};
    for (const type of mod.TRACE_EVENT_TYPES) {
      hooks[type] = () => {
        seen++;
      };
    }
    const plain = new mod.Client({ maxConnectionsPerHost: 16 });
    const hooked = new mod.Client({ maxConnectionsPerHost: 16, hooks });
    return [
      fetchCandidate(`plain${suffix}`, (url) => plain.fetch(url), () => plain.close()),
      fetchCandidate(`hooks${suffix}`, (url) => hooked.fetch(url), () => {
        if (seen === 0) throw new Error("no hook was called");
        return hooked.close();
      }),
    ];
  },
  ratios: [["hooks", "plain"]],
  big: false,
};
