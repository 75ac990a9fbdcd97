/**
 * The libc binding on Deno: `Deno.dlopen` of the C library for `getsockopt`, `getsockname`,
 * `getpeername`, `getrlimit` and errno, loaded once on first use.
 *
 * It needs `--allow-ffi`. The permission is queried first and `Deno.dlopen` is called only when it
 * is granted, so `tcpInfo` never triggers an interactive permission prompt; without it the load
 * fails with a reason instead. Listing `/proc/self/fd` (or `/dev/fd`) needs read permission for
 * that directory; without it descriptors are probed by number instead.
 *
 * @module
 */

import type { LoadFailure, NativeCalls } from "./native.ts";
import {
  bindingOs,
  ERRNO_SYMBOL,
  FD_DIRECTORY,
  LIBRARIES,
  type Os,
  softFdLimit,
} from "./ffi_shared.ts";

// The slice of the Deno namespace used here, declared locally and reached through globalThis: the
// npm build compiles this file with Node's types only, where `Deno` does not exist.
interface DenoApi {
  build: { os: string };
  permissions: { querySync(descriptor: { name: string; path?: string }): { state: string } };
  errors: Record<string, unknown>;
  dlopen(
    path: string,
    symbols: Record<string, { parameters: readonly string[]; result: string }>,
  ): { symbols: Record<string, (...args: never[]) => unknown> };
  UnsafePointerView: new (pointer: object) => { getInt32(offset?: number): number };
  readDirSync(path: string): Iterable<{ name: string }>;
}

function deno(): DenoApi {
  return (globalThis as unknown as { Deno: DenoApi }).Deno;
}

const SYMBOLS = {
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
} as const;

let loaded: NativeCalls | undefined;
let loadError: LoadFailure | undefined;

function granted(descriptor: { name: string; path?: string }): boolean {
  try {
    return deno().permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

function isPermissionError(error: unknown): boolean {
  const errors = deno().errors as Record<string, (new () => Error) | undefined>;
  return ["NotCapable", "PermissionDenied"].some((name) => {
    const type = errors[name];
    return type !== undefined && error instanceof type;
  });
}

/**
 * Loads the binding, or says why it cannot: `PERMISSION` without `--allow-ffi`, `UNSUPPORTED` on
 * an operating system other than Linux and macOS, `FFI_ERROR` if no C library could be opened.
 * A success is cached; a missing permission is checked again on the next call (it can be granted
 * later with `Deno.permissions.request`).
 *
 * @example
 * ```ts ignore
 * import { loadDenoCalls } from "./ffi_deno.ts";
 *
 * const calls = loadDenoCalls();
 * if ("reason" in calls) console.log(calls.reason);
 * ```
 */
export function loadDenoCalls(): NativeCalls | LoadFailure {
  if (loaded !== undefined) return loaded;
  if (loadError !== undefined) return loadError;
  const os = bindingOs(deno().build.os);
  if (typeof os !== "string") {
    loadError = os;
    return loadError;
  }
  if (!granted({ name: "ffi" })) {
    return {
      code: "PERMISSION",
      reason: "reading TCP_INFO calls getsockopt through FFI: run Deno with --allow-ffi",
    };
  }
  const errors: string[] = [];
  for (const path of LIBRARIES[os]) {
    try {
      const symbols = {
        ...SYMBOLS,
        [ERRNO_SYMBOL[os]]: { parameters: [], result: "pointer" },
      } as const;
      const library = deno().dlopen(path, symbols);
      loaded = bind(os, library.symbols as unknown as Symbols, ERRNO_SYMBOL[os]);
      return loaded;
    } catch (error) {
      if (isPermissionError(error)) {
        return {
          code: "PERMISSION",
          reason: `Deno denied loading ${path}: run Deno with --allow-ffi (${
            (error as Error).message
          })`,
        };
      }
      errors.push(`${path}: ${(error as Error)?.message ?? error}`);
    }
  }
  loadError = { code: "FFI_ERROR", reason: `cannot load the C library (${errors.join("; ")})` };
  return loadError;
}

interface Symbols {
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: Uint32Array): number;
  getsockname(fd: number, address: Uint8Array, len: Uint32Array): number;
  getpeername(fd: number, address: Uint8Array, len: Uint32Array): number;
  getrlimit(resource: number, limits: BigUint64Array): number;
  [errno: string]: unknown;
}

function bind(os: Os, symbols: Symbols, errnoSymbol: string): NativeCalls {
  const errnoLocation = symbols[errnoSymbol] as () => object | null;
  const directory = FD_DIRECTORY[os];
  return {
    os,
    getsockopt: (fd, level, name, value, length) =>
      symbols.getsockopt(fd, level, name, value, length),
    getsockname: (fd, address, length) => symbols.getsockname(fd, address, length),
    getpeername: (fd, address, length) => symbols.getpeername(fd, address, length),
    errno(): number {
      const pointer = errnoLocation();
      return pointer === null ? 0 : new (deno().UnsafePointerView)(pointer).getInt32();
    },
    listFds(): number[] | undefined {
      if (!granted({ name: "read", path: directory })) return undefined;
      try {
        const fds: number[] = [];
        for (const entry of deno().readDirSync(directory)) {
          const fd = Number(entry.name);
          if (Number.isInteger(fd)) fds.push(fd);
        }
        return fds;
      } catch {
        return undefined;
      }
    },
    maxFds: () => softFdLimit(symbols.getrlimit, os),
  };
}
