#!/usr/bin/env -S deno run -A
/**
 * The `httpstat` command: `deno task httpstat [URL]`, `npm start`, or the `httpstat` bin of the
 * npm package. Run with `--help` for the options.
 *
 * @example
 * ```sh
 * deno run -A jsr:@wirefetch/fetch/httpstat https://example.com/ -n 3
 * ```
 *
 * @module
 */

import process from "node:process";
import { main } from "./src/cli/httpstat.ts";

const color = !process.env.NO_COLOR &&
  (Boolean(process.stdout.isTTY) ||
    Boolean(process.env.FORCE_COLOR && process.env.FORCE_COLOR !== "0"));
const code = await main(process.argv.slice(2), {
  write: (text) => process.stdout.write(text + "\n"),
  error: (text) => process.stderr.write(text + "\n"),
  errorRaw: (text) => process.stderr.write(text),
  color,
  // The progress bar of -o FILE is for a person watching a terminal; HTTPSTAT_PROGRESS=1 forces
  // it (tests), HTTPSTAT_PROGRESS=0 turns it off.
  progress: process.env.HTTPSTAT_PROGRESS !== undefined
    ? process.env.HTTPSTAT_PROGRESS === "1"
    : Boolean(process.stderr.isTTY),
});
process.exitCode = code;
