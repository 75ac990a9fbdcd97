/**
 * Name resolution with the system resolver (so /etc/hosts and nsswitch apply, as for every
 * other program on the machine), a small TTL-bounded cache, and coalescing of concurrent lookups
 * of the same name.
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";

/** One resolved address. */
export interface LookupAddress {
  /** The IP address. */
  readonly address: string;
  /** 4 or 6. */
  readonly family: 4 | 6;
}

/** Resolves a host name to its addresses; inject one with the client's `lookup` option. */
export type LookupFunction = (hostname: string) => Promise<LookupAddress[]>;

/** What {@linkcode Resolver.resolve} found. */
export interface Resolution {
  /** The addresses, in the resolver's order. */
  readonly addresses: readonly LookupAddress[];
  /** The lookup was shared with a concurrent one. */
  readonly coalesced: boolean;
  /** The answer came from the cache. */
  readonly cached: boolean;
}

/**
 * The system resolver through `node:dns` `lookup`, which calls getaddrinfo on Deno, Bun and Node
 * alike (`Deno.resolveDns` queries DNS servers directly and ignores /etc/hosts).
 *
 * @example
 * ```ts
 * import { systemLookup } from "./resolve.ts";
 * console.log(await systemLookup("localhost"));
 * ```
 */
export async function systemLookup(hostname: string): Promise<LookupAddress[]> {
  const dns = await import("node:dns");
  const results = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return results.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
}

/**
 * Tells whether `host` is an IP literal (IPv6 without brackets), which needs no lookup.
 *
 * @example
 * ```ts
 * import { ipFamily } from "./resolve.ts";
 * console.log(ipFamily("127.0.0.1"), ipFamily("::1"), ipFamily("example.com")); // 4 6 0
 * ```
 */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (host.includes(":")) return 6;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ? 4 : 0;
}

/**
 * A caching, coalescing resolver.
 *
 * @example
 * ```ts
 * import { Resolver } from "./resolve.ts";
 * const resolver = new Resolver();
 * const { addresses } = await resolver.resolve("localhost");
 * ```
 */
export class Resolver {
  #lookup: LookupFunction;
  #ttl: number;
  #cache = new Map<string, { addresses: LookupAddress[]; expires: number }>();
  #inflight = new Map<string, Promise<LookupAddress[]>>();

  /** Creates a resolver; `ttl` (ms) bounds how long an answer is reused (0: never cached). */
  constructor(lookup: LookupFunction = systemLookup, ttl = 30_000) {
    this.#lookup = lookup;
    this.#ttl = ttl;
  }

  /** Resolves `host`, from the cache, a lookup in flight, or a new lookup. */
  async resolve(host: string): Promise<Resolution> {
    const now = performance.now();
    const hit = this.#cache.get(host);
    if (hit !== undefined) {
      if (hit.expires > now) return { addresses: hit.addresses, coalesced: false, cached: true };
      this.#cache.delete(host);
    }
    const inflight = this.#inflight.get(host);
    if (inflight !== undefined) {
      return { addresses: await inflight, coalesced: true, cached: false };
    }
    const lookup = this.#run(host);
    this.#inflight.set(host, lookup);
    try {
      return { addresses: await lookup, coalesced: false, cached: false };
    } finally {
      this.#inflight.delete(host);
    }
  }

  async #run(host: string): Promise<LookupAddress[]> {
    let addresses: LookupAddress[];
    try {
      addresses = await this.#lookup(host);
    } catch (error) {
      throw new WirefetchError(
        "ERR_DNS",
        `cannot resolve ${host}: ${(error as Error)?.message ?? error}`,
        { cause: error },
      );
    }
    if (addresses.length === 0) throw new WirefetchError("ERR_DNS", `no addresses for ${host}`);
    if (this.#ttl > 0) {
      // Keep the cache small: a client talks to few names, and stale entries only waste memory.
      if (this.#cache.size >= 1000) this.#cache.clear();
      this.#cache.set(host, { addresses, expires: performance.now() + this.#ttl });
    }
    return addresses;
  }
}
