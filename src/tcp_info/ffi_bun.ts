/**
 * The libc binding on Bun: `bun:ffi`'s `dlopen` of the C library for `getsockopt`,
 * `getsockname`, `getpeername`, `getrlimit` and errno, loaded once on first use.
 *
 * `bun:ffi` is obtained synchronously at run time (`import.meta.require`, or
 * `process.getBuiltinModule`), never through an `import` declaration, so that Deno, which has no
 * `bun:ffi`, loads and type-checks this module without resolving it, `deno publish` accepts it,
 * and `tcpInfo` stays synchronous.
 *
 * @module
 */

import type { LoadFailure, NativeCalls } from "./native.ts";
import {
  bindingOs,
  ERRNO_SYMBOL,
  LIBRARIES,
  listedFds,
  type Os,
  softFdLimit,
} from "./ffi_shared.ts";

// The slice of bun:ffi used here, declared locally because Deno has no types for it.
interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, { args: readonly string[]; returns: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown> };
  read: { i32(pointer: number, offset?: number): number };
}

interface BunFs {
  readdirSync(path: string): string[];
}

let loaded: NativeCalls | LoadFailure | undefined;

function builtin<T>(specifier: string): T | undefined {
  const meta = import.meta as unknown as { require?: (specifier: string) => unknown };
  if (typeof meta.require === "function") return meta.require(specifier) as T;
  const process = (globalThis as { process?: { getBuiltinModule?: (s: string) => unknown } })
    .process;
  if (typeof process?.getBuiltinModule === "function") {
    return process.getBuiltinModule(specifier) as T;
  }
  return undefined;
}

/**
 * Loads the binding, or says why it cannot: `UNSUPPORTED` on an operating system other than
 * Linux and macOS or when `bun:ffi` is not reachable (a bundle that stripped it), `FFI_ERROR` if
 * no C library could be opened. The outcome is cached.
 *
 * @example
 * ```ts ignore
 * import { loadBunCalls } from "./ffi_bun.ts";
 *
 * const calls = loadBunCalls();
 * if ("reason" in calls) console.log(calls.reason);
 * ```
 */
export function loadBunCalls(): NativeCalls | LoadFailure {
  loaded ??= load();
  return loaded;
}

function load(): NativeCalls | LoadFailure {
  const os = bindingOs((globalThis as { process?: { platform?: string } }).process?.platform);
  if (typeof os !== "string") return os;
  let ffi: BunFfi | undefined;
  let fs: BunFs | undefined;
  try {
    ffi = builtin<BunFfi>("bun:ffi");
    fs = builtin<BunFs>("node:fs");
  } catch (error) {
    return { code: "UNSUPPORTED", reason: `bun:ffi is not available: ${(error as Error).message}` };
  }
  if (ffi === undefined || typeof ffi.dlopen !== "function") {
    return { code: "UNSUPPORTED", reason: "bun:ffi is not available in this Bun process" };
  }
  const symbols = {
    getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
    getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
    getpeername: { args: ["i32", "ptr", "ptr"], returns: "i32" },
    getrlimit: { args: ["i32", "ptr"], returns: "i32" },
    [ERRNO_SYMBOL[os]]: { args: [], returns: "ptr" },
  };
  const errors: string[] = [];
  for (const path of LIBRARIES[os]) {
    try {
      const library = ffi.dlopen(path, symbols);
      return bind(os, ffi, fs, library.symbols);
    } catch (error) {
      errors.push(`${path}: ${(error as Error)?.message ?? error}`);
    }
  }
  return { code: "FFI_ERROR", reason: `cannot load the C library (${errors.join("; ")})` };
}

function bind(
  os: Os,
  ffi: BunFfi,
  fs: BunFs | undefined,
  symbols: Record<string, (...args: unknown[]) => unknown>,
): NativeCalls {
  const { getsockopt, getsockname, getpeername, getrlimit } = symbols;
  const errnoLocation = symbols[ERRNO_SYMBOL[os]];
  return {
    os,
    getsockopt: (fd, level, name, value, length) =>
      getsockopt(fd, level, name, value, length) as number,
    getsockname: (fd, address, length) => getsockname(fd, address, length) as number,
    getpeername: (fd, address, length) => getpeername(fd, address, length) as number,
    errno(): number {
      const pointer = errnoLocation() as number | null;
      return pointer ? ffi.read.i32(pointer, 0) : 0;
    },
    listFds: () => fs === undefined ? undefined : listedFds(fs, os),
    maxFds: () => softFdLimit(getrlimit, os),
  };
}
