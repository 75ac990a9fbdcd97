/**
 * What the three libc bindings (ffi_deno.ts, ffi_bun.ts, ffi_node.ts) share beyond the C calls
 * themselves: where each operating system lists a process's descriptors, the `RLIMIT_NOFILE`
 * resource number, and the descriptor search built on them. Used only when a socket does not
 * expose its descriptor (native.ts), never on the request path.
 *
 * @module
 */

import type { LoadFailure } from "./native.ts";

/** The operating systems with a binding. */
export type Os = "linux" | "darwin";

/** The C library to open, in order of preference. */
export const LIBRARIES: Readonly<Record<Os, readonly string[]>> = {
  // glibc's soname; "libc.so" covers distributions that only ship the development link.
  linux: ["libc.so.6", "libc.so"],
  darwin: ["/usr/lib/libSystem.B.dylib"],
};

/** The function returning the address of the calling thread's errno. */
export const ERRNO_SYMBOL: Readonly<Record<Os, string>> = {
  linux: "__errno_location",
  darwin: "__error",
};

/**
 * `platform` (`process.platform`, `Deno.build.os`) if it has a binding, or the `UNSUPPORTED`
 * failure naming it.
 *
 * @example
 * ```ts ignore
 * import { bindingOs } from "./ffi_shared.ts";
 *
 * const os = bindingOs(process.platform);
 * if (typeof os !== "string") console.log(os.reason);
 * ```
 */
export function bindingOs(platform: string | undefined): Os | LoadFailure {
  if (platform === "linux" || platform === "darwin") return platform;
  return {
    code: "UNSUPPORTED",
    reason: `TCP_INFO is read on Linux and macOS only, not on ${platform}`,
  };
}

/** `RLIMIT_NOFILE` in <sys/resource.h>: 7 on Linux, 8 on macOS. */
export const RLIMIT_NOFILE: Readonly<Record<Os, number>> = { linux: 7, darwin: 8 };

/** The directory whose entries are the process's open descriptors. */
export const FD_DIRECTORY: Readonly<Record<Os, string>> = {
  linux: "/proc/self/fd",
  darwin: "/dev/fd",
};

/**
 * The open descriptors of the process, read from `FD_DIRECTORY[os]` through `fs` (node:fs on
 * Node and Bun), or undefined when that directory cannot be read.
 *
 * @example
 * ```ts ignore
 * import * as fs from "node:fs";
 * import { listedFds } from "./ffi_shared.ts";
 *
 * console.log(listedFds(fs, "linux"));
 * ```
 */
export function listedFds(
  fs: { readdirSync(path: string): string[] },
  os: Os,
): number[] | undefined {
  try {
    return fs.readdirSync(FD_DIRECTORY[os]).map(Number).filter(Number.isInteger);
  } catch {
    return undefined;
  }
}

/**
 * The soft `RLIMIT_NOFILE` through the binding's `getrlimit`, or 1024 if the call fails.
 * RLIM_INFINITY is all ones; Number() of it is simply very large, and the caller caps it.
 *
 * @example
 * ```ts ignore
 * import { softFdLimit } from "./ffi_shared.ts";
 *
 * console.log(softFdLimit(symbols.getrlimit, "linux"));
 * ```
 */
export function softFdLimit(
  getrlimit: (resource: number, limits: BigUint64Array) => unknown,
  os: Os,
): number {
  const limits = new BigUint64Array(2);
  if (getrlimit(RLIMIT_NOFILE[os], limits) !== 0) return 1024;
  return Number(limits[0]);
}
