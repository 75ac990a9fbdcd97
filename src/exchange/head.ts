/**
 * The request head of a hop: the caller's fields plus what fetch adds (Host, Accept,
 * User-Agent, Accept-Encoding, Referer, Origin, framing, a proxy route's fields), encoded once
 * per hop. Heads of plain GETs are cached by URL.
 *
 * @module
 */

import { type CachedHead, encodeRequestHead, RequestHeadCache } from "../h1/request_head.ts";
import { defaultAcceptEncoding } from "../body/content_coding.ts";
import { findHeader, type RequestSpec } from "../request.ts";
import type { Route } from "../route/route.ts";

/** What the head of a hop depends on besides the request, and where its field list goes. */
export interface HeadTarget {
  /** The route of the hop (its own header fields, absolute-form for HTTP proxies). */
  readonly route: Route;
  /** Accept-Encoding is sent (the `decompress` option). */
  readonly decompress: boolean;
  /** The Referer of the hop, or null. */
  readonly referer: string | null;
  /** The Origin of the hop, or null. */
  readonly origin: string | null;
  /** Receives the header fields as sent (shared with the cache: read only). */
  headerList: readonly string[];
}

// Heads of plain GETs (nothing of the caller's but the URL), whose bytes depend only on the URL,
// the User-Agent (a NUL, which no header value can hold, stands for none) and whether
// Accept-Encoding is sent (one cache each): repeated requests for a URL reuse them.
const headCache = new RequestHeadCache();
// The same for requests that send no Accept-Encoding (the `decompress: false` option).
const headCacheNoCoding = new RequestHeadCache();

// The last hit, by URL object: requests for one URL text share one URL object, which nothing
// writes into (request.ts), so the same object, User-Agent and cache mean the same head, found
// without reading `url.href` and two map lookups.
let lastUrl: URL | null = null;
let lastAgent: string | null = null;
let lastCache: RequestHeadCache | null = null;
let lastHit: CachedHead | undefined;

/**
 * The last head encoded outside the caches (fields of the caller's, a body, a proxy route...),
 * with everything it was made from. Clients of an API tend to send the same head again and
 * again (same method, URL and fields, values included): comparing what goes into it costs far
 * less than building the field list, validating and encoding it again. One entry: a miss costs
 * compares up to the first difference.
 */
interface LastHead {
  readonly method: string;
  readonly url: URL;
  /** A copy of the caller's fields (the request's own list may change after a redirect). */
  readonly user: readonly string[];
  readonly casing: Map<string, string> | null;
  readonly host: string | null;
  /** The body's framing: -2 none, -1 chunked, else its length. */
  readonly bodyLength: number;
  readonly closeAfter: boolean;
  readonly referer: string | null;
  readonly origin: string | null;
  readonly route: Route;
  readonly decompress: boolean;
  readonly userAgent: string | null;
  /** The request target and the field list as sent: the head's whole content with the method. */
  readonly target: string;
  readonly list: readonly string[];
  readonly head: Uint8Array;
}
let last: LastHead | null = null;

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Encodes the head of `spec` for `target`'s hop; sets `target.headerList`. Throws TypeError for
 * a request that cannot be encoded.
 */
export function encodeHead(
  spec: RequestSpec,
  userAgent: string | null,
  target: HeadTarget,
): Uint8Array {
  const url = spec.url;
  const user = spec.headers;
  const route = target.route;
  // Everything else that goes into the head must be absent: the caller's fields and their
  // casing, a Host override, a body, Connection: close, the Referer and Origin of the hop, and a
  // proxy route's fields and absolute-form target.
  const cacheable = user.length === 0 && spec.method === "GET" && spec.body === null &&
    spec.host === null && !spec.closeAfter && spec.casing === null && target.referer === null &&
    target.origin === null && route.requestHeaders.length === 0 && !route.absoluteForm;
  const body = spec.body;
  const bodyLength = body === null ? -2 : body.kind === "bytes" ? body.bytes.length : body.length;
  if (!cacheable) {
    // Everything the field list and the target are built from, compared (URL objects are
    // shared per URL text and never written into, so the same object means the same URL; a
    // casing map is shared between requests only while it stays the same, read-only).
    const l = last;
    if (
      l !== null && l.url === url && l.method === spec.method && l.route === route &&
      l.casing === spec.casing && l.host === spec.host && l.bodyLength === bodyLength &&
      l.closeAfter === spec.closeAfter && l.referer === target.referer &&
      l.origin === target.origin && l.decompress === target.decompress &&
      l.userAgent === userAgent && sameList(user, l.user)
    ) {
      target.headerList = l.list;
      return l.head;
    }
  }
  const cache = target.decompress ? headCache : headCacheNoCoding;
  if (cacheable) {
    const hit = url === lastUrl && userAgent === lastAgent && cache === lastCache
      ? lastHit
      : cache.get(userAgent ?? "\0", url.href);
    if (hit !== undefined) {
      lastUrl = url;
      lastAgent = userAgent;
      lastCache = cache;
      lastHit = hit;
      target.headerList = hit.headers;
      return hit.head;
    }
  }
  const list: string[] = ["host", spec.host ?? url.host];
  const casing = spec.casing;
  if (casing === null) {
    for (let i = 0; i < user.length; i++) list.push(user[i]);
  } else {
    // The caller's spelling of each name goes on the wire; lookups stay on lowercase names.
    if (casing.has("host")) list[0] = casing.get("host")!;
    for (let i = 0; i < user.length; i += 2) {
      list.push(casing.get(user[i]) ?? user[i], user[i + 1]);
    }
  }
  // The route's own fields: Proxy-Authorization and the proxy's headers on absolute-form
  // requests to an HTTP proxy (a caller's own Proxy-Authorization wins). They belong to this
  // route only: a redirect recomputes the route, so they never follow a request elsewhere.
  const extra = route.requestHeaders;
  for (let i = 0; i < extra.length; i += 2) {
    if (findHeader(user, extra[i]) < 0) list.push(extra[i], extra[i + 1]);
  }
  if (findHeader(user, "accept") < 0) list.push("accept", "*/*");
  if (userAgent !== null && findHeader(user, "user-agent") < 0) {
    list.push("user-agent", userAgent);
  }
  if (target.decompress && findHeader(user, "accept-encoding") < 0) {
    // Fetch §4.5 step 8.16-17: a Range request asks for identity (byte ranges of a coded body
    // would not decode); otherwise the codings we can undo.
    list.push(
      "accept-encoding",
      findHeader(user, "range") >= 0 ? "identity" : defaultAcceptEncoding,
    );
  }
  // HTTP-network-or-cache fetch: Referer when the request's referrer is a URL, Origin as §3.1
  // says. A value the caller set is kept.
  if (target.referer !== null && findHeader(user, "referer") < 0) {
    list.push("referer", target.referer);
  }
  if (target.origin !== null && findHeader(user, "origin") < 0) {
    list.push("origin", target.origin);
  }
  if (body === null) {
    // RFC 9110 §8.6: send a length for methods whose content has a meaning, even when empty,
    // or some servers wait for a body that will not come.
    const m = spec.method;
    if (m === "POST" || m === "PUT" || m === "PATCH") list.push("content-length", "0");
  } else if (bodyLength >= 0) {
    // Bytes, a string (its UTF-8 length) or a stream of known length.
    list.push("content-length", String(bodyLength));
  } else {
    list.push("transfer-encoding", "chunked");
  }
  if (spec.closeAfter) list.push("connection", "close");
  target.headerList = list;
  // URL.search is "" for both "/a" and "/a?": keep the bare "?" the caller wrote.
  const search = url.search !== ""
    ? url.search
    : url.href.slice(0, url.href.length - url.hash.length).endsWith("?")
    ? "?"
    : "";
  const path = url.pathname + search;
  // RFC 9112 §3.2.2: a request to a proxy names the whole target (absolute-form).
  const requestTarget = route.absoluteForm ? `${url.protocol}//${url.host}${path}` : path;
  const method = spec.method;
  if (cacheable) {
    const head = encodeRequestHead(method, requestTarget, list);
    cache.set(userAgent ?? "\0", url.href, head, list);
    return head;
  }
  // Made from other objects (another URL object of the same text, say), the same content: the
  // same bytes, validated when they were encoded.
  const l = last;
  const head = l !== null && method === l.method && requestTarget === l.target &&
      sameList(list, l.list)
    ? l.head
    : encodeRequestHead(method, requestTarget, list);
  last = {
    method,
    url,
    user: user.slice(),
    casing: spec.casing,
    host: spec.host,
    bodyLength,
    closeAfter: spec.closeAfter,
    referer: target.referer,
    origin: target.origin,
    route,
    decompress: target.decompress,
    userAgent,
    target: requestTarget,
    list,
    head,
  };
  return head;
}
