/**
 * `tcpInfo`: picks the runtime's FFI binding and reads a target's TCP statistics through it.
 *
 * @module
 */

import { loadBunCalls } from "./ffi_bun.ts";
import { loadDenoCalls } from "./ffi_deno.ts";
import { loadNodeCalls } from "./ffi_node.ts";
import {
  failure,
  FdFinder,
  type FdSearchStats,
  type LoadFailure,
  type NativeCalls,
  tcpInfoWith,
} from "./native.ts";
import type { TcpInfoResult, TcpInfoTarget } from "./types.ts";

let finder: FdFinder | undefined;

function loadCalls(): NativeCalls | LoadFailure {
  const global = globalThis as { Bun?: unknown; Deno?: { build?: unknown } };
  // Bun first: it defines no Deno global, but Deno defines `process` like Node and Bun do.
  if (global.Bun !== undefined) return loadBunCalls();
  if (typeof global.Deno?.build === "object") return loadDenoCalls();
  // Node: through the optional npm package koffi.
  if (
    typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions
      ?.node === "string"
  ) {
    return loadNodeCalls();
  }
  return {
    code: "UNSUPPORTED",
    reason: "this runtime has no FFI to call getsockopt with (Deno, Bun and Node with koffi have)",
  };
}

/**
 * Reads the kernel's TCP statistics (`TCP_INFO` on Linux, `TCP_CONNECTION_INFO` on macOS) of a
 * connection. Synchronous: a couple of system calls, plus a search of the process's descriptors
 * the first time a socket without a visible descriptor is looked up.
 *
 * It never throws: without FFI permission (Deno without `--allow-ffi`), on an unsupported
 * runtime or OS, for an unknown descriptor or a closed connection, it returns `info: undefined`
 * with a `reason` and a `code`.
 *
 * @example A Deno connection
 * ```ts ignore
 * import { tcpInfo } from "@wirefetch/fetch/tcp-info";
 *
 * const conn = await Deno.connect({ hostname: "example.com", port: 80 });
 * const result = tcpInfo(conn);
 * if (result.info === undefined) console.log("no TCP_INFO:", result.reason);
 * else console.log(result.info.state, result.info.rtt, "µs");
 * ```
 */
export function tcpInfo(target: TcpInfoTarget): TcpInfoResult {
  const unix = unixPath(target);
  if (unix !== undefined) {
    return failure(
      "INVALID_TARGET",
      `not a TCP socket: a unix domain socket${unix === "" ? "" : ` (${unix})`} has no TCP_INFO`,
    );
  }
  try {
    const calls = loadCalls();
    if ("reason" in calls) return failure(calls.code, calls.reason);
    finder ??= new FdFinder(calls);
    return tcpInfoWith(calls, finder, target);
  } catch (error) {
    // Nothing above is expected to throw; a runtime quirk must not break the caller anyway.
    return failure("FFI_ERROR", `unexpected error: ${(error as Error)?.message ?? error}`);
  }
}

// A unix domain socket's path ("" when unknown), or undefined for anything else: wirefetch's
// sockets say `family: "unix"`, Deno's UnixConn `transport: "unix"`.
function unixPath(target: TcpInfoTarget): string | undefined {
  if (target === null || typeof target !== "object") return undefined;
  const remote = (target as { remoteAddress?: unknown }).remoteAddress as
    | { family?: string; address?: string }
    | undefined;
  if (typeof remote === "object" && remote?.family === "unix") return remote.address ?? "";
  const addr = (target as { remoteAddr?: unknown }).remoteAddr as
    | { transport?: string; path?: string | null }
    | undefined;
  if (typeof addr === "object" && addr?.transport === "unix") return addr.path ?? "";
  return undefined;
}

/**
 * The descriptor search's counters in this process (scans, descriptors probed, cache and map
 * hits), or undefined before the first search. For tests and diagnostics.
 *
 * @example
 * ```ts ignore
 * import { fdSearchStats } from "./tcp_info.ts";
 *
 * console.log(fdSearchStats()?.scans);
 * ```
 */
export function fdSearchStats(): Readonly<FdSearchStats> | undefined {
  return finder === undefined ? undefined : { ...finder.stats };
}
