/**
 * The HTTP Archive (HAR) 1.2 format, as far as wirefetch writes it
 * (http://www.softwareishard.com/blog/har-12-spec/). Fields starting with `_` are custom, as the
 * spec allows.
 *
 * @module
 */

import type { TcpInfoJson } from "../tcp_info/json.ts";

/** A name/value pair: a header, a query parameter. */
export interface HarNameValue {
  /** The name. */
  name: string;
  /** The value. */
  value: string;
}

/** A cookie sent or set. */
export interface HarCookie {
  /** The cookie's name. */
  name: string;
  /** The cookie's value. */
  value: string;
  /** Set-Cookie's Path. */
  path?: string;
  /** Set-Cookie's Domain. */
  domain?: string;
  /** Set-Cookie's Expires, as written. */
  expires?: string;
  /** Set-Cookie's HttpOnly. */
  httpOnly?: boolean;
  /** Set-Cookie's Secure. */
  secure?: boolean;
}

/** The request of an entry. */
export interface HarRequest {
  /** The method of this hop. */
  method: string;
  /** The URL of this hop. */
  url: string;
  /** Always "HTTP/1.1": wirefetch writes nothing else. */
  httpVersion: string;
  /** From the Cookie header written. */
  cookies: HarCookie[];
  /** The header fields as written, in order (`wroteheaderfield` events). */
  headers: HarNameValue[];
  /** The URL's query parameters. */
  queryString: HarNameValue[];
  /** Bytes of the request line and header fields, from the fields written; -1 before any. */
  headersSize: number;
  /** The body's Content-Length, 0 without a body, -1 for a chunked body. */
  bodySize: number;
  /** Notes (why no header was written). */
  comment?: string;
}

/** The response body: its size and type (wirefetch keeps no copy of the content). */
export interface HarContent {
  /** Body bytes received (0 when the body was not read to its end). */
  size: number;
  /** The Content-Type, or "x-unknown". */
  mimeType: string;
}

/** The response of an entry (status 0 when none arrived). */
export interface HarResponse {
  /** The status code (0: no response). */
  status: number;
  /** The reason phrase ("" when unknown). */
  statusText: string;
  /** "HTTP/1.1" or "HTTP/1.0"; "" when no response arrived. */
  httpVersion: string;
  /** From the Set-Cookie headers. */
  cookies: HarCookie[];
  /** The response's headers (as `Response.headers` lists them). */
  headers: HarNameValue[];
  /** Size and type of the body. */
  content: HarContent;
  /** The Location of a redirect, else "". */
  redirectURL: string;
  /** -1: the raw head's size is not kept. */
  headersSize: number;
  /** Body bytes received, -1 when the body was not read to its end. */
  bodySize: number;
  /** Notes: an unread body, a redirect hop. */
  comment?: string;
  /** Why the request or its body failed (message and WirefetchError code). */
  _error?: string;
}

/**
 * Where the time went, in ms; -1 where a phase did not happen. `connect` includes `ssl`, as HAR
 * 1.2 says, so `time` = blocked + dns + connect + send + wait + receive (the non-negative ones).
 */
export interface HarTimings {
  /** Waiting for a connection (queue, someone else's dial): `timingsOf().queued`. */
  blocked: number;
  /** Name lookup; -1 without one (reused connection, IP literal). */
  dns: number;
  /** TCP connect plus TLS handshake; -1 on a reused connection. */
  connect: number;
  /** TLS handshake; -1 for http: or a reused connection. */
  ssl: number;
  /** Writing the request, body included: `timingsOf().written`. */
  send: number;
  /** From the request written to the first response byte: `timingsOf().ttfb`. */
  wait: number;
  /** Reading the body: `timingsOf().transfer`; -1 while it is unread. */
  receive: number;
}

/** One request (one hop of a followed redirect). */
export interface HarEntry {
  /** When the request (or hop) started, ISO 8601. */
  startedDateTime: string;
  /** The sum of the non-negative timings except `ssl` (in `connect`). */
  time: number;
  /** The request. */
  request: HarRequest;
  /** The response. */
  response: HarResponse;
  /** Always empty: wirefetch has no cache. */
  cache: Record<string, never>;
  /** The phases. */
  timings: HarTimings;
  /** The server's IP address. */
  serverIPAddress?: string;
  /** The connection's id (`connectionId` of the trace events). */
  connection?: string;
  /** TCP_INFO of the connection when the response ended (client option `tcpInfo`). */
  _tcpInfo?: TcpInfoJson;
}

/** A HAR 1.2 document. */
export interface Har {
  /** The log. */
  log: {
    /** "1.2". */
    version: "1.2";
    /** wirefetch and its version. */
    creator: { name: string; version: string };
    /** One entry per request, or per hop of a followed redirect, in start order. */
    entries: HarEntry[];
  };
}
