/**
 * `Referer` and `Origin` request headers, computed as the Fetch standard's main fetch and
 * HTTP-network-or-cache fetch do for a request without a window, the way undici does: the
 * environment's origin and "client" referrer come from `globalThis.location` when the runtime
 * has one (Deno's `--location`, or a harness that sets it); without it a request has no origin,
 * so no `Origin` is ever sent and the default referrer is "no-referrer". An explicit
 * `referrer` URL is honoured under its `referrerPolicy` (W3C Referrer Policy §8.3).
 *
 * @module
 */

/** A request's referrer: a URL, the environment ("client"), or none. */
export type Referrer = URL | "client" | "no-referrer";

const POLICIES = new Set<string>([
  "",
  "no-referrer",
  "no-referrer-when-downgrade",
  "same-origin",
  "origin",
  "strict-origin",
  "origin-when-cross-origin",
  "strict-origin-when-cross-origin",
  "unsafe-url",
]);

/** Fetch §2.2.5: the policy applied when a request names none. */
const DEFAULT_POLICY = "strict-origin-when-cross-origin";

function environment(): URL | null {
  const href = (globalThis as { location?: { href?: string } }).location?.href;
  if (typeof href !== "string") return null;
  try {
    return new URL(href);
  } catch {
    return null;
  }
}

/**
 * The origin of the environment (serialized), or null when it has none (no `location`).
 *
 * @example
 * ```ts
 * import { environmentOrigin } from "./referrer.ts";
 * console.log(environmentOrigin()); // null, unless run with a location
 * ```
 */
export function environmentOrigin(): string | null {
  const url = environment();
  if (url === null || url.origin === "null") return null;
  return url.origin;
}

/**
 * Validates a `referrerPolicy` as the `Request` constructor does (an unknown value is a
 * TypeError).
 *
 * @example
 * ```ts
 * import { parseReferrerPolicy } from "./referrer.ts";
 * console.log(parseReferrerPolicy("origin")); // "origin"
 * ```
 */
export function parseReferrerPolicy(value: unknown): ReferrerPolicy {
  const policy = String(value);
  if (!POLICIES.has(policy)) throw new TypeError(`invalid referrerPolicy: ${policy}`);
  return policy as ReferrerPolicy;
}

/**
 * Parses a `referrer` init member as the `Request` constructor does (Fetch §5.4 step 27): ""
 * is "no-referrer", `about:client` or a URL of another origin than the environment's is
 * "client", anything else must be an absolute URL (or relative to `location`).
 *
 * @example
 * ```ts
 * import { parseReferrer } from "./referrer.ts";
 * console.log(String(parseReferrer("https://example.com/page"))); // the URL
 * ```
 */
export function parseReferrer(value: unknown): Referrer {
  const text = String(value);
  if (text === "") return "no-referrer";
  const env = environment();
  let url: URL;
  try {
    url = new URL(text, env ?? undefined);
  } catch {
    throw new TypeError(`invalid referrer URL: ${text}`);
  }
  if (url.href === "about:client") return "client";
  if (env !== null && url.origin !== env.origin) return "client";
  return url;
}

/**
 * A Request's `referrer` attribute back to a {@linkcode Referrer}: "about:client" is
 * "client", "" is "no-referrer".
 *
 * @example
 * ```ts
 * import { referrerOfRequest } from "./referrer.ts";
 * console.log(referrerOfRequest("about:client")); // "client"
 * ```
 */
export function referrerOfRequest(value: string): Referrer {
  if (value === "about:client") return "client";
  if (value === "") return "no-referrer";
  try {
    return new URL(value);
  } catch {
    return "no-referrer";
  }
}

/**
 * Secure Contexts §3.1 "potentially trustworthy URL": https and wss, file, and loopback hosts.
 *
 * @example
 * ```ts
 * import { isPotentiallyTrustworthy } from "./referrer.ts";
 * console.log(isPotentiallyTrustworthy(new URL("http://127.0.0.1/"))); // true
 * ```
 */
export function isPotentiallyTrustworthy(url: URL): boolean {
  const href = url.href;
  if (href === "about:blank" || href === "about:srcdoc") return true;
  const scheme = url.protocol;
  if (scheme === "data:") return true;
  if (scheme === "https:" || scheme === "wss:" || scheme === "file:") return true;
  const host = url.hostname;
  return host === "localhost" || host.endsWith(".localhost") || host === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Referrer Policy §8.4 "strip url for use as a referrer"; null when the scheme has none. */
function strip(url: URL, originOnly: boolean): URL | null {
  if (url.protocol === "about:" || url.protocol === "blob:" || url.protocol === "data:") {
    return null;
  }
  const stripped = new URL(url.href);
  stripped.username = "";
  stripped.password = "";
  stripped.hash = "";
  if (originOnly) {
    stripped.pathname = "/";
    stripped.search = "";
  }
  return stripped;
}

/**
 * Referrer Policy §8.3 "determine request's referrer" for a request whose current URL is
 * `current`. Returns the stripped URL to send and keep as the request's referrer, or
 * "no-referrer".
 *
 * @example
 * ```ts
 * import { determineReferrer } from "./referrer.ts";
 * const ref = determineReferrer(
 *   new URL("https://a.example/page?q#f"),
 *   "",
 *   new URL("https://b.example/"),
 * );
 * console.log(String(ref)); // "https://a.example/"
 * ```
 */
export function determineReferrer(
  referrer: Referrer,
  policy: ReferrerPolicy,
  current: URL,
): URL | "no-referrer" {
  if (referrer === "no-referrer") return "no-referrer";
  const source = referrer === "client" ? environment() : referrer;
  if (source === null) return "no-referrer";
  let full = strip(source, false);
  const origin = strip(source, true);
  if (full === null || origin === null) return "no-referrer";
  // §8.3 step 7: a very long referrer URL is reduced to its origin.
  if (full.href.length > 4096) full = origin;
  const sameOrigin = full.origin === current.origin;
  const downgrade = isPotentiallyTrustworthy(full) && !isPotentiallyTrustworthy(current);
  switch (policy === "" ? DEFAULT_POLICY : policy) {
    case "no-referrer":
      return "no-referrer";
    case "origin":
      return origin;
    case "unsafe-url":
      return full;
    case "strict-origin":
      return downgrade ? "no-referrer" : origin;
    case "same-origin":
      return sameOrigin ? full : "no-referrer";
    case "origin-when-cross-origin":
      return sameOrigin ? full : origin;
    case "no-referrer-when-downgrade":
      return downgrade ? "no-referrer" : full;
    default: // strict-origin-when-cross-origin
      if (sameOrigin) return full;
      return downgrade ? "no-referrer" : origin;
  }
}

/**
 * Referrer Policy §11.1 "parse a referrer policy from a Referrer-Policy header": the last
 * known token of the comma-separated values, or "" when there is none.
 *
 * @example
 * ```ts
 * import { policyFromHeader } from "./referrer.ts";
 * console.log(policyFromHeader("unknown, origin")); // "origin"
 * ```
 */
export function policyFromHeader(value: string): ReferrerPolicy {
  let policy = "";
  for (const token of value.split(",")) {
    const t = token.trim().toLowerCase();
    if (t !== "" && POLICIES.has(t)) policy = t;
  }
  return policy as ReferrerPolicy;
}

/** Where a request stands for the `Origin` header (Fetch §3.1 and main fetch step 12). */
export interface OriginState {
  /** The request's origin (the environment's), or null: then no Origin is ever sent. */
  readonly origin: string | null;
  /** `mode` of the request. */
  readonly mode: RequestMode;
  /** Response tainting: "basic" until a cross-origin URL is fetched. */
  tainting: "basic" | "cors" | "opaque";
  /** Fetch §4.4 step 12: the redirect chain went through another origin. */
  taintedOrigin: boolean;
}

/**
 * Main fetch step 12 for the current URL: the response tainting, or a network error message
 * for a `mode: "same-origin"` request that reached another origin.
 *
 * @example
 * ```ts
 * import { updateTainting } from "./referrer.ts";
 * const state = { origin: "http://a.test", mode: "cors" as const, tainting: "basic" as const,
 *   taintedOrigin: false };
 * updateTainting(state, new URL("http://b.test/"));
 * console.log(state.tainting); // "cors"
 * ```
 */
export function updateTainting(state: OriginState, current: URL): string | null {
  if (state.origin === null) return null;
  if (state.tainting === "basic" && current.origin === state.origin) return null;
  if (state.mode === "same-origin") {
    return `mode "same-origin" request reached another origin: ${current.origin}`;
  }
  if (state.mode === "no-cors") {
    state.tainting = "opaque";
    return null;
  }
  state.tainting = "cors";
  return null;
}

/**
 * Fetch §3.1 "append a request Origin header": the value to send with `method` to `current`, or
 * null for none.
 *
 * @example
 * ```ts
 * import { originHeader } from "./referrer.ts";
 * const state = { origin: "http://a.test", mode: "cors" as const, tainting: "cors" as const,
 *   taintedOrigin: false };
 * console.log(originHeader(state, "GET", "", new URL("http://b.test/"))); // "http://a.test"
 * ```
 */
export function originHeader(
  state: OriginState,
  method: string,
  policy: ReferrerPolicy,
  current: URL,
): string | null {
  if (state.origin === null) return null;
  // "byte-serializing a request origin": a redirect-tainted origin is "null".
  let serialized = state.taintedOrigin ? "null" : state.origin;
  if (state.tainting === "cors") return serialized;
  if (method === "GET" || method === "HEAD") return null;
  switch (policy === "" ? DEFAULT_POLICY : policy) {
    case "no-referrer":
      serialized = "null";
      break;
    case "no-referrer-when-downgrade":
    case "strict-origin":
    case "strict-origin-when-cross-origin":
      if (state.origin.startsWith("https:") && current.protocol !== "https:") serialized = "null";
      break;
    case "same-origin":
      if (state.origin !== current.origin) serialized = "null";
      break;
  }
  return serialized;
}
