/**
 * Native fetch against itself and the raw loop against itself: needs no wirefetch, and its
 * ratios (ideally 1.00) show the harness's noise on this machine right now.
 *
 * @module
 */

import { fetchCandidate } from "../harness.ts";
import { rawCandidate } from "../raw.ts";
import type { Mode } from "./types.ts";

/** The self-test mode. */
export const selfTestMode: Mode = {
  flag: "--self-test",
  summary: "native vs native and raw vs raw: the harness's noise (ratios ideally 1.00)",
  fixed: (context) => [
    rawCandidate("raw"),
    rawCandidate("raw again"),
    fetchCandidate("native", context.nativeFetch),
    fetchCandidate("native again", context.nativeFetch),
  ],
  ratios: [["raw again", "raw"], ["native again", "native"]],
  big: false,
};
