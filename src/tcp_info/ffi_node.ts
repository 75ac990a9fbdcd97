/**
 * The libc binding on Node: Node has no FFI of its own, so the calls go through the npm package
 * `koffi` (an optional dependency of the npm build: its native code comes in per-platform
 * optional packages, so a plain `npm install` needs no build step). Loaded once, on first use,
 * synchronously (`createRequire`), so `tcpInfo` stays synchronous. Without koffi the answer is
 * `UNSUPPORTED` with a reason saying how to get it.
 *
 * Node's sockets expose their descriptor to wirefetch (`socket._handle.fd`), so the descriptor
 * search is only needed for a bare `node:net` socket.
 *
 * @module
 */

import { createRequire } from "node:module";
import type { LoadFailure, NativeCalls } from "./native.ts";
import { bindingOs, LIBRARIES, listedFds, type Os, softFdLimit } from "./ffi_shared.ts";

// The slice of koffi used here, declared locally: the package is optional, and Deno and the
// JSR package must not depend on its types.
interface Koffi {
  load(path: string): { func(definition: string): (...args: unknown[]) => unknown };
  errno(): number;
}

interface NodeFs {
  readdirSync(path: string): string[];
}

let loaded: NativeCalls | LoadFailure | undefined;

function requireFromHere(specifier: string): unknown {
  return createRequire(import.meta.url)(specifier);
}

/**
 * Loads the binding through koffi, or says why it cannot: `UNSUPPORTED` on an operating system
 * other than Linux and macOS or without the `koffi` package, `FFI_ERROR` if no C library could
 * be opened. `load` is how koffi (and node:fs) are required; the outcome with the default is
 * cached.
 *
 * @example
 * ```ts ignore
 * import { loadNodeCalls } from "./ffi_node.ts";
 *
 * const calls = loadNodeCalls();
 * if ("reason" in calls) console.log(calls.reason);
 * ```
 */
export function loadNodeCalls(
  load: (specifier: string) => unknown = requireFromHere,
): NativeCalls | LoadFailure {
  if (load !== requireFromHere) return bindWith(load);
  loaded ??= bindWith(load);
  return loaded;
}

function bindWith(load: (specifier: string) => unknown): NativeCalls | LoadFailure {
  const os = bindingOs((globalThis as { process?: { platform?: string } }).process?.platform);
  if (typeof os !== "string") return os;
  let koffi: Koffi;
  try {
    koffi = load("koffi") as Koffi;
  } catch (error) {
    return {
      code: "UNSUPPORTED",
      reason: "TCP_INFO on Node calls getsockopt through the optional npm package koffi, which " +
        `is not installed (npm install koffi): ${
          String((error as Error)?.message ?? error).split("\n")[0]
        }`,
    };
  }
  let fs: NodeFs | undefined;
  try {
    fs = load("node:fs") as NodeFs;
  } catch {
    fs = undefined;
  }
  const errors: string[] = [];
  for (const path of LIBRARIES[os]) {
    try {
      const library = koffi.load(path);
      return bind(os, koffi, fs, {
        getsockopt: library.func("int getsockopt(int, int, int, _Inout_ void *, _Inout_ void *)"),
        getsockname: library.func("int getsockname(int, _Inout_ void *, _Inout_ void *)"),
        getpeername: library.func("int getpeername(int, _Inout_ void *, _Inout_ void *)"),
        getrlimit: library.func("int getrlimit(int, _Inout_ void *)"),
      });
    } catch (error) {
      errors.push(`${path}: ${(error as Error)?.message ?? error}`);
    }
  }
  return { code: "FFI_ERROR", reason: `cannot load the C library (${errors.join("; ")})` };
}

type Fn = (...args: unknown[]) => unknown;

function bind(
  os: Os,
  koffi: Koffi,
  fs: NodeFs | undefined,
  symbols: { getsockopt: Fn; getsockname: Fn; getpeername: Fn; getrlimit: Fn },
): NativeCalls {
  const { getsockopt, getsockname, getpeername, getrlimit } = symbols;
  return {
    os,
    // Typed arrays are passed as pointers to their memory: the kernel writes into them.
    getsockopt: (fd, level, name, value, length) =>
      getsockopt(fd, level, name, value, length) as number,
    getsockname: (fd, address, length) => getsockname(fd, address, length) as number,
    getpeername: (fd, address, length) => getpeername(fd, address, length) as number,
    // koffi saves errno right after each call, before JavaScript can disturb it.
    errno: () => koffi.errno(),
    listFds: () => fs === undefined ? undefined : listedFds(fs, os),
    maxFds: () => softFdLimit(getrlimit, os),
  };
}
