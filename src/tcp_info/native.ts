/**
 * The C calls `tcpInfo` needs, as one interface the FFI bindings (`ffi_deno.ts`, `ffi_bun.ts`,
 * `ffi_node.ts`) implement, and the runtime-independent logic on top of them: reading TCP_INFO
 * from a file descriptor, and finding the descriptor of a socket object that does not expose one.
 *
 * @module
 */

import {
  decodeLinuxTcpInfo,
  HOST_LITTLE_ENDIAN,
  IPPROTO_TCP,
  LINUX_TCP_INFO_BUFFER_SIZE,
  TCP_INFO,
} from "./linux.ts";
import { decodeDarwinTcpInfo, TCP_CONNECTION_INFO } from "./darwin.ts";
import { endpointKey, formatKey, SOCKADDR_STORAGE_SIZE, sockaddrKey } from "./sockaddr.ts";
import type { TcpInfoEndpoint, TcpInfoFailureCode, TcpInfoResult, TcpSocketLike } from "./types.ts";

/**
 * The libc functions and descriptor listing a runtime binding provides. Every call returns what
 * the C function returns (0 or -1); `errno()` reads the thread's errno right after a failure.
 *
 * @example A fake for tests
 * ```ts
 * import type { NativeCalls } from "./native.ts";
 *
 * const calls: NativeCalls = {
 *   os: "linux",
 *   getsockopt: () => -1,
 *   getsockname: () => -1,
 *   getpeername: () => -1,
 *   errno: () => 9,
 *   listFds: () => [0, 1, 2],
 *   maxFds: () => 1024,
 * };
 * ```
 */
export interface NativeCalls {
  /** The operating system the binding was loaded on. */
  readonly os: "linux" | "darwin";
  /** `getsockopt(fd, level, name, value, &length)`; `length[0]` is in/out. */
  getsockopt(
    fd: number,
    level: number,
    name: number,
    value: Uint8Array,
    length: Uint32Array,
  ): number;
  /** `getsockname(fd, address, &length)`; `length[0]` is in/out. */
  getsockname(fd: number, address: Uint8Array, length: Uint32Array): number;
  /** `getpeername(fd, address, &length)`; `length[0]` is in/out. */
  getpeername(fd: number, address: Uint8Array, length: Uint32Array): number;
  /** The calling thread's `errno`. */
  errno(): number;
  /**
   * The process's open descriptors (`/proc/self/fd` on Linux, `/dev/fd` on macOS), or undefined
   * when they cannot be listed (no read permission).
   */
  listFds(): number[] | undefined;
  /** The soft `RLIMIT_NOFILE`: descriptors are below it. Used when `listFds` cannot list. */
  maxFds(): number;
}

/**
 * Why a binding could not be loaded: the `code` and `reason` a failed `tcpInfo` returns.
 *
 * @example
 * ```ts
 * import type { LoadFailure } from "./native.ts";
 *
 * const failure: LoadFailure = { code: "UNSUPPORTED", reason: "koffi is not installed" };
 * ```
 */
export interface LoadFailure {
  /** The failure code. */
  readonly code: TcpInfoFailureCode;
  /** The sentence for humans. */
  readonly reason: string;
}

// errno names for the messages; the numbers differ between Linux and macOS.
const ERRNO_NAMES: Record<"linux" | "darwin", Record<number, string>> = {
  linux: { 9: "EBADF", 22: "EINVAL", 88: "ENOTSOCK", 92: "ENOPROTOOPT", 95: "EOPNOTSUPP" },
  darwin: { 9: "EBADF", 22: "EINVAL", 38: "ENOTSOCK", 42: "ENOPROTOOPT", 102: "EOPNOTSUPP" },
};

/**
 * `errno` as `"EBADF (errno 9)"`, or `"errno N"` for numbers without a name here.
 *
 * @example
 * ```ts
 * import { errnoText } from "./native.ts";
 *
 * console.log(errnoText(88, "linux")); // "ENOTSOCK (errno 88)"
 * ```
 */
export function errnoText(errno: number, os: "linux" | "darwin"): string {
  const name = ERRNO_NAMES[os][errno];
  return name === undefined ? `errno ${errno}` : `${name} (errno ${errno})`;
}

/**
 * A failed {@linkcode TcpInfoResult}.
 *
 * @example
 * ```ts
 * import { failure } from "./native.ts";
 *
 * console.log(failure("UNSUPPORTED", "no FFI on this runtime").reason);
 * ```
 */
export function failure(code: TcpInfoFailureCode, reason: string): TcpInfoResult {
  return { info: undefined, code, reason };
}

// Scratch buffers: JavaScript is single-threaded and each call finishes before the next starts.
const infoBuffer = new Uint8Array(LINUX_TCP_INFO_BUFFER_SIZE);
const lengthCell = new Uint32Array(1);
const addressBuffer = new Uint8Array(SOCKADDR_STORAGE_SIZE);

/**
 * Reads TCP_INFO (Linux) or TCP_CONNECTION_INFO (macOS) from `fd` and decodes it.
 *
 * @example
 * ```ts ignore
 * import { readTcpInfo } from "./native.ts";
 * import { loadDenoCalls } from "./ffi_deno.ts";
 *
 * const calls = loadDenoCalls();
 * if (typeof calls !== "string") console.log(readTcpInfo(calls, 3));
 * ```
 */
export function readTcpInfo(calls: NativeCalls, fd: number): TcpInfoResult {
  const linux = calls.os === "linux";
  lengthCell[0] = infoBuffer.length;
  const rc = calls.getsockopt(
    fd,
    IPPROTO_TCP,
    linux ? TCP_INFO : TCP_CONNECTION_INFO,
    infoBuffer,
    lengthCell,
  );
  if (rc !== 0) {
    const errno = calls.errno();
    const hint = errno === 9
      ? ": no such open descriptor"
      : errno === (linux ? 88 : 38)
      ? ": not a socket"
      : ": not a TCP socket?";
    return failure(
      "SYSCALL",
      `getsockopt(${fd}, IPPROTO_TCP, ${linux ? "TCP_INFO" : "TCP_CONNECTION_INFO"}) failed with ${
        errnoText(errno, calls.os)
      }${hint}`,
    );
  }
  const length = Math.min(lengthCell[0], infoBuffer.length);
  const info = linux
    ? decodeLinuxTcpInfo(infoBuffer, length)
    : decodeDarwinTcpInfo(infoBuffer, length);
  return { info, fd };
}

/**
 * The key pair `local|remote` of an open, connected IP socket, or undefined for anything else
 * (not a socket, a Unix socket, a listener, a closed descriptor).
 *
 * @example
 * ```ts ignore
 * import { socketKey } from "./native.ts";
 *
 * console.log(socketKey(calls, 7)); // "...ffff7f000001:43396|...ffff7f000001:38647"
 * ```
 */
export function socketKey(calls: NativeCalls, fd: number): string | undefined {
  lengthCell[0] = addressBuffer.length;
  if (calls.getsockname(fd, addressBuffer, lengthCell) !== 0) return undefined;
  const local = sockaddrKey(addressBuffer, lengthCell[0], calls.os, HOST_LITTLE_ENDIAN);
  if (local === undefined) return undefined;
  lengthCell[0] = addressBuffer.length;
  if (calls.getpeername(fd, addressBuffer, lengthCell) !== 0) return undefined;
  const remote = sockaddrKey(addressBuffer, lengthCell[0], calls.os, HOST_LITTLE_ENDIAN);
  return remote === undefined ? undefined : `${local}|${remote}`;
}

function endpointOf(
  value: TcpInfoEndpoint | string | undefined,
  port: number | undefined,
): string | undefined {
  if (typeof value === "string") return port === undefined ? undefined : endpointKey(value, port);
  if (value === undefined || value === null || typeof value !== "object") return undefined;
  const address = value.address ?? value.hostname;
  if (typeof address !== "string" || typeof value.port !== "number") return undefined;
  return endpointKey(address, value.port);
}

/**
 * The key pair `local|remote` a socket object describes (wirefetch socket, Deno connection,
 * node:net socket), or undefined when it describes no IP endpoints.
 *
 * @example
 * ```ts
 * import { targetKey } from "./native.ts";
 *
 * const key = targetKey({
 *   localAddr: { hostname: "127.0.0.1", port: 50000 },
 *   remoteAddr: { hostname: "127.0.0.1", port: 80 },
 * });
 * console.log(key !== undefined); // true
 * ```
 */
export function targetKey(target: TcpSocketLike): string | undefined {
  let local: string | undefined;
  let remote: string | undefined;
  // These are getters on runtime objects (Deno's localAddr reaches into the runtime): read them
  // defensively, tcpInfo must not throw.
  try {
    local = endpointOf(target.localAddr, undefined) ??
      endpointOf(target.localAddress, target.localPort);
    remote = endpointOf(target.remoteAddr, undefined) ??
      endpointOf(target.remoteAddress, target.remotePort);
  } catch {
    return undefined;
  }
  return local === undefined || remote === undefined ? undefined : `${local}|${remote}`;
}

/**
 * Formats a key pair for messages: `local 127.0.0.1:50000, remote 127.0.0.1:80`.
 *
 * @example
 * ```ts
 * import { formatPair, targetKey } from "./native.ts";
 *
 * const key = targetKey({
 *   localAddress: "::1",
 *   localPort: 1,
 *   remoteAddress: "::1",
 *   remotePort: 2,
 * });
 * console.log(formatPair(key!)); // "local [0:0:0:0:0:0:0:1]:1, remote [0:0:0:0:0:0:0:1]:2"
 * ```
 */
export function formatPair(key: string): string {
  const [local, remote] = key.split("|");
  return `local ${formatKey(local)}, remote ${formatKey(remote)}`;
}

/** Counters of the descriptor search, for tests and diagnostics. */
export interface FdSearchStats {
  /** Full scans of the process's descriptors. */
  scans: number;
  /** Descriptors probed (getsockname calls) over all scans. */
  probed: number;
  /** Scans that probed descriptors by number because they could not be listed. */
  unlistedScans: number;
  /** Lookups answered from the per-object cache (after checking the descriptor still matches). */
  cacheHits: number;
  /** Lookups answered from the last scan's map. */
  mapHits: number;
  /** Lookups answered by one of the most recently found descriptors. */
  recentHits: number;
}

/**
 * Finds the file descriptor of a socket from its addresses, by comparing them with
 * `getsockname`/`getpeername` of the process's descriptors.
 *
 * Cost: a found descriptor is cached per socket object (a `WeakMap`), and the cache is checked on
 * every use with one `getsockname` and one `getpeername` (a descriptor number can be reused after
 * a close). On a miss, every descriptor is probed once and all connected IP sockets go into a map
 * from address pair to descriptor, so that looking up many connections costs one scan, not one
 * each: a burst of 200 lookups costs one scan of the descriptors plus two calls per lookup. A
 * connection opened after the last scan causes a new scan. When descriptors cannot be listed (no
 * read permission for `/proc/self/fd`), descriptors from 0 up to the `RLIMIT_NOFILE` soft limit
 * (at most 65536) are probed in order, stopping at the match.
 *
 * @example
 * ```ts ignore
 * import { FdFinder } from "./native.ts";
 *
 * const finder = new FdFinder(calls);
 * const fd = finder.find(conn, targetKey(conn)!); // number | undefined
 * ```
 */
export class FdFinder {
  /** Search counters. */
  readonly stats: FdSearchStats = {
    scans: 0,
    probed: 0,
    unlistedScans: 0,
    cacheHits: 0,
    mapHits: 0,
    recentHits: 0,
  };
  #calls: NativeCalls;
  #cache = new WeakMap<object, number>();
  #map = new Map<string, number>();
  // Descriptors found most recently, newest first. A closed connection frees its descriptor and
  // the kernel hands the lowest free number to the next socket, so a new connection usually
  // sits on one of these: two system calls instead of a scan of every descriptor.
  #recent: number[] = [];

  /**
   * A finder over one binding.
   *
   * @example
   * ```ts ignore
   * const finder = new FdFinder(calls);
   * ```
   */
  constructor(calls: NativeCalls) {
    this.#calls = calls;
  }

  /**
   * The descriptor whose local and remote address make up `key`, or undefined if there is none
   * (the connection is closed). `owner` is the object the answer is cached for.
   *
   * @example
   * ```ts ignore
   * const fd = finder.find(conn, targetKey(conn)!);
   * ```
   */
  find(owner: object, key: string): number | undefined {
    const cached = this.#cache.get(owner);
    if (cached !== undefined && socketKey(this.#calls, cached) === key) {
      this.stats.cacheHits++;
      return cached;
    }
    const mapped = this.#map.get(key);
    if (mapped !== undefined && socketKey(this.#calls, mapped) === key) {
      this.stats.mapHits++;
      this.#remember(owner, mapped);
      return mapped;
    }
    for (const fd of this.#recent) {
      if (socketKey(this.#calls, fd) === key) {
        this.stats.recentHits++;
        this.#remember(owner, fd);
        return fd;
      }
    }
    const found = this.#scan(key);
    if (found === undefined) this.#cache.delete(owner);
    else this.#remember(owner, found);
    return found;
  }

  #remember(owner: object, fd: number): void {
    this.#cache.set(owner, fd);
    const recent = this.#recent;
    const index = recent.indexOf(fd);
    if (index >= 0) recent.splice(index, 1);
    recent.unshift(fd);
    if (recent.length > 8) recent.length = 8;
  }

  #scan(key: string): number | undefined {
    this.stats.scans++;
    const calls = this.#calls;
    const map = new Map<string, number>();
    this.#map = map;
    const listed = calls.listFds();
    if (listed !== undefined) {
      let found: number | undefined;
      for (const fd of listed) {
        this.stats.probed++;
        const k = socketKey(calls, fd);
        if (k === undefined) continue;
        map.set(k, fd);
        if (k === key) found = fd;
      }
      return found;
    }
    // Without a listing, probe in order: the kernel hands out the lowest free descriptor, so
    // sockets sit low and the search usually stops early.
    this.stats.unlistedScans++;
    const limit = Math.min(calls.maxFds(), 65536);
    for (let fd = 0; fd < limit; fd++) {
      this.stats.probed++;
      const k = socketKey(calls, fd);
      if (k === undefined) continue;
      map.set(k, fd);
      if (k === key) return fd;
    }
    return undefined;
  }
}

/**
 * Reads the statistics of a target through a binding: a descriptor number directly, a socket
 * object through its `fd` when it has one, else through {@linkcode FdFinder}.
 *
 * @example
 * ```ts ignore
 * import { FdFinder, tcpInfoWith } from "./native.ts";
 *
 * const result = tcpInfoWith(calls, new FdFinder(calls), conn);
 * ```
 */
export function tcpInfoWith(
  calls: NativeCalls,
  finder: FdFinder,
  target: number | TcpSocketLike,
): TcpInfoResult {
  if (typeof target === "number") {
    if (!Number.isInteger(target) || target < 0) {
      return failure("INVALID_TARGET", `${target} is not a file descriptor`);
    }
    return readTcpInfo(calls, target);
  }
  if (target === null || typeof target !== "object") {
    return failure(
      "INVALID_TARGET",
      `expected a file descriptor or a socket object, got ${
        target === null ? "null" : typeof target
      }`,
    );
  }
  let fd: unknown;
  try {
    fd = target.fd;
  } catch {
    fd = undefined;
  }
  if (typeof fd === "number" && Number.isInteger(fd) && fd >= 0) return readTcpInfo(calls, fd);
  const key = targetKey(target);
  if (key === undefined) {
    return failure(
      "INVALID_TARGET",
      "the socket exposes neither a file descriptor nor IP local and remote addresses",
    );
  }
  const found = finder.find(target, key);
  if (found === undefined) {
    return failure(
      "NOT_FOUND",
      `no open socket of this process has ${formatPair(key)} (closed?)`,
    );
  }
  return readTcpInfo(calls, found);
}
