/**
 * `HarRecorder`: records the requests of a {@linkcode Client} as an HTTP Archive (HAR 1.2), the
 * format browser devtools and HAR viewers open.
 *
 * It wraps the client's `fetch` and gives every request a trace target of its own (forwarding
 * to the caller's `trace`, if any): the events say where the time went, which connection and
 * server served it and which header fields were written; the `Response` gives the status and
 * headers. Entries are built when {@linkcode HarRecorder.toJSON} is called, so a body still
 * being read shows as such.
 *
 * @module
 */

import type { Client, FetchFunction, FetchInit } from "../client.ts";
import { VERSION } from "../client.ts";
import type {
  GotConnEvent,
  RedirectEvent,
  ResponseDoneEvent,
  TraceEvent,
  WroteHeaderFieldEvent,
} from "../trace/events.ts";
import { TIMING_MARKS, type TimingMarks, timingsOf } from "../trace/timings.ts";
import { tcpInfo } from "../tcp_info/tcp_info.ts";
import { type TcpInfoJson, tcpInfoToJSON } from "../tcp_info/json.ts";
import type {
  Har,
  HarCookie,
  HarEntry,
  HarNameValue,
  HarRequest,
  HarResponse,
  HarTimings,
} from "./types.ts";

/** Options of {@linkcode HarRecorder}. */
export interface HarRecorderOptions {
  /** `log.creator`; default `{ name: "wirefetch", version: VERSION }`. */
  creator?: { name: string; version: string };
}

/** One `fetch` call: its events, and its Response or error once they exist. */
class RequestRecord {
  readonly events: TraceEvent[] = [];
  response: Response | undefined;
  error: unknown;
  failed = false;
  /** TCP_INFO read when the response ended (only for connections opened with `tcpInfo`). */
  tcpInfo: TcpInfoJson | undefined;
}

/**
 * The trace target a recorded request runs with: it keeps each event and hands it on to the
 * caller's own target. It never dispatches on itself, so an event is dispatched once per target.
 */
class RecordingTarget extends EventTarget {
  readonly #record: RequestRecord;
  readonly #forward: EventTarget | null;
  readonly #tcpInfoConnections: Set<number>;

  constructor(record: RequestRecord, forward: EventTarget | null, tcpInfoConnections: Set<number>) {
    super();
    this.#record = record;
    this.#forward = forward;
    this.#tcpInfoConnections = tcpInfoConnections;
  }

  override dispatchEvent(event: Event): boolean {
    const record = this.#record;
    record.events.push(event as TraceEvent);
    if (event.type === "gotconn") {
      const got = event as GotConnEvent;
      // A connection opened with TCP_INFO on carries a snapshot; remember it for later requests.
      if (got.tcpInfo !== undefined) this.#tcpInfoConnections.add(got.connection.id);
    } else if (event.type === "responsedone") {
      const got = record.events.findLast((e) => e.type === "gotconn") as GotConnEvent | undefined;
      if (got !== undefined && this.#tcpInfoConnections.has(got.connection.id)) {
        const reading = tcpInfo(got.connection);
        const info = reading.info ?? got.tcpInfo;
        if (info !== undefined) record.tcpInfo = tcpInfoToJSON(info);
      }
    }
    return this.#forward === null ? true : this.#forward.dispatchEvent(event);
  }
}

/**
 * Records every request of a client as HAR 1.2: `new HarRecorder(client)`, make requests,
 * then `JSON.stringify(recorder)` (or `recorder.toJSON()`).
 *
 * - One entry per request; a followed redirect gives one entry per hop (the redirect hops
 *   have the status and `redirectURL`, but not their other headers, which the client did not
 *   keep).
 * - A failed request has status 0 and `response._error` with the error and its code; one
 *   rejected before anything was sent (an invalid header) has no entry.
 * - A body not read to its end when the HAR is written has `bodySize` -1, `receive` -1 and a
 *   comment saying so.
 * - Timings: `blocked` is the queue time; `dns`, `connect` and `ssl` are -1 when the phase did
 *   not happen (a reused connection); `connect` includes `ssl` (HAR 1.2) and a proxy tunnel.
 * - With the client's `tcpInfo` option, `_tcpInfo` holds the connection's TCP_INFO when the
 *   response ended.
 *
 * It records requests made through `client.fetch` (and `fetch(url, { client })`) after it was
 * created; {@linkcode HarRecorder.stop} gives the client its own `fetch` back. Recording makes
 * every request build its trace events (see the README's benchmark of `--trace-cost`).
 *
 * @example
 * ```ts ignore
 * import { Client } from "@wirefetch/fetch";
 * import { HarRecorder } from "@wirefetch/fetch/har";
 *
 * const client = new Client();
 * const recorder = new HarRecorder(client);
 * await (await client.fetch("https://example.com/")).text();
 * await Deno.writeTextFile("example.har", JSON.stringify(recorder, null, 2));
 * await client.close();
 * ```
 */
export class HarRecorder {
  readonly #client: Client;
  readonly #original: FetchFunction;
  readonly #records: RequestRecord[] = [];
  readonly #creator: { name: string; version: string };
  // Connections opened with TCP_INFO on (their ids), so reused ones get `_tcpInfo` too.
  readonly #tcpInfoConnections = new Set<number>();

  /**
   * Starts recording the requests of `client`.
   *
   * @example
   * ```ts
   * import { Client } from "../client.ts";
   * import { HarRecorder } from "./recorder.ts";
   *
   * const recorder = new HarRecorder(new Client());
   * console.log(recorder.toJSON().log.entries.length); // 0
   * ```
   */
  constructor(client: Client, options: HarRecorderOptions = {}) {
    this.#client = client;
    this.#original = client.fetch;
    this.#creator = options.creator ?? { name: "wirefetch", version: VERSION };
    const record = (input: RequestInfo | URL, init?: FetchInit): Promise<Response> =>
      this.#fetch(input, init);
    (client as { fetch: FetchFunction }).fetch = record;
  }

  /** Requests recorded so far. */
  get size(): number {
    return this.#records.length;
  }

  /**
   * Stops recording: the client's `fetch` is its own again. The entries stay.
   *
   * @example
   * ```ts
   * import { Client } from "../client.ts";
   * import { HarRecorder } from "./recorder.ts";
   *
   * const client = new Client();
   * const recorder = new HarRecorder(client);
   * recorder.stop();
   * ```
   */
  stop(): void {
    (this.#client as { fetch: FetchFunction }).fetch = this.#original;
  }

  /**
   * Forgets the requests recorded so far.
   *
   * @example
   * ```ts
   * import { Client } from "../client.ts";
   * import { HarRecorder } from "./recorder.ts";
   *
   * new HarRecorder(new Client()).clear();
   * ```
   */
  clear(): void {
    this.#records.length = 0;
  }

  /**
   * The HAR 1.2 document of the requests recorded so far.
   *
   * @example
   * ```ts
   * import { Client } from "../client.ts";
   * import { HarRecorder } from "./recorder.ts";
   *
   * const har = new HarRecorder(new Client()).toJSON();
   * console.log(har.log.version); // "1.2"
   * ```
   */
  toJSON(): Har {
    const entries: HarEntry[] = [];
    for (const record of this.#records) entries.push(...entriesOf(record));
    return { log: { version: "1.2", creator: { ...this.#creator }, entries } };
  }

  #fetch(input: RequestInfo | URL, init: FetchInit | undefined): Promise<Response> {
    const record = new RequestRecord();
    this.#records.push(record);
    const trace = new RecordingTarget(record, init?.trace ?? null, this.#tcpInfoConnections);
    return this.#original(input, { ...init, trace }).then(
      (response) => {
        record.response = response;
        return response;
      },
      (error) => {
        record.failed = true;
        record.error = error;
        throw error;
      },
    );
  }
}

/** The events of one hop: from its `getconn` to the `redirect` that ended it, or the end. */
interface Hop {
  events: TraceEvent[];
  redirect: RedirectEvent | undefined;
}

function hopsOf(events: readonly TraceEvent[]): Hop[] {
  const hops: Hop[] = [];
  let current: Hop | null = null;
  for (const event of events) {
    if (event.type === "getconn" && (current === null || current.redirect !== undefined)) {
      current = { events: [], redirect: undefined };
      hops.push(current);
    }
    if (current === null) continue;
    current.events.push(event);
    if (event.type === "redirect") current.redirect = event as RedirectEvent;
  }
  return hops;
}

function last<T extends TraceEvent>(events: readonly TraceEvent[], type: string): T | undefined {
  return events.findLast((e) => e.type === type) as T | undefined;
}

// The events of the attempt that counted: after a retry, the failed attempt's are dropped.
function finalAttempt(events: readonly TraceEvent[]): TraceEvent[] {
  const retry = events.findLastIndex((e) => e.type === "retry");
  return retry < 0 ? [...events] : events.slice(retry + 1);
}

function iso(time: number): string {
  return new Date(performance.timeOrigin + time).toISOString();
}

function errorText(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  const code = e?.cause?.code;
  return `${e?.message ?? String(error)}${code ? ` (${code})` : ""}`;
}

function parseCookieHeader(value: string): HarCookie[] {
  return value.split(";").map((part) => part.trim()).filter((part) => part !== "").map((part) => {
    const eq = part.indexOf("=");
    return eq < 0
      ? { name: part, value: "" }
      : { name: part.slice(0, eq).trim(), value: part.slice(eq + 1).trim() };
  });
}

function parseSetCookie(value: string): HarCookie {
  const [pair, ...attributes] = value.split(";");
  const eq = pair.indexOf("=");
  const cookie: HarCookie = eq < 0
    ? { name: pair.trim(), value: "" }
    : { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim() };
  for (const attribute of attributes) {
    const [rawName, ...rest] = attribute.split("=");
    const name = rawName.trim().toLowerCase();
    const v = rest.join("=").trim();
    if (name === "path") cookie.path = v;
    else if (name === "domain") cookie.domain = v;
    else if (name === "expires") cookie.expires = v;
    else if (name === "httponly") cookie.httpOnly = true;
    else if (name === "secure") cookie.secure = true;
  }
  return cookie;
}

function requestOf(events: readonly TraceEvent[], first: TraceEvent): HarRequest {
  const url = new URL(first.url);
  const headers: HarNameValue[] = events
    .filter((e) => e.type === "wroteheaderfield")
    .map((e) => ({
      name: (e as WroteHeaderFieldEvent).name,
      value: (e as WroteHeaderFieldEvent).value,
    }));
  const find = (name: string): string | undefined =>
    headers.find((h) => h.name.toLowerCase() === name)?.value;
  let headersSize = -1;
  let bodySize = 0;
  if (headers.length > 0) {
    // RFC 9112 §3 and §5: request line, one "name: value" line per field, the empty line.
    headersSize = `${first.method} ${url.pathname}${url.search} HTTP/1.1\r\n`.length + 2;
    for (const h of headers) headersSize += h.name.length + 2 + h.value.length + 2;
    const length = find("content-length");
    if (length !== undefined) bodySize = Number(length);
    else if (find("transfer-encoding") !== undefined) bodySize = -1;
  }
  const cookie = find("cookie");
  const request: HarRequest = {
    method: first.method,
    url: url.href,
    httpVersion: "HTTP/1.1",
    cookies: cookie === undefined ? [] : parseCookieHeader(cookie),
    headers,
    queryString: [...url.searchParams].map(([name, value]) => ({ name, value })),
    headersSize,
    bodySize,
  };
  if (headers.length === 0) request.comment = "no header field was written";
  return request;
}

const sum = (t: HarTimings): number =>
  [t.blocked, t.dns, t.connect, t.send, t.wait, t.receive].reduce((a, v) => a + Math.max(v, 0), 0);

/** Timings of a hop from its events (redirect hops, and requests that got no Response). */
function timingsFromEvents(events: readonly TraceEvent[], start: number, end: number): HarTimings {
  const at = (type: string): number => last(events, type)?.time ?? -1;
  const first = (type: string): number => events.find((e) => e.type === type)?.time ?? -1;
  const span = (from: number, to: number): number => from >= 0 && to >= from ? to - from : -1;
  const dns = span(first("dnsstart"), at("dnsdone"));
  const tcp = span(first("connectstart"), at("connectdone"));
  const ssl = span(first("tlshandshakestart"), at("tlshandshakedone"));
  // A proxy's tunnel handshake is part of setting the connection up (as in browsers' HARs).
  const tunnel = Math.max(span(first("proxyconnectstart"), at("proxyconnectdone")), 0);
  const gotConn = at("gotconn");
  const wrote = at("wroterequest");
  const firstByte = at("gotfirstresponsebyte");
  const dial = Math.max(dns, 0) + Math.max(tcp, 0) + tunnel + Math.max(ssl, 0);
  return {
    blocked: gotConn >= 0 ? Math.max(0, gotConn - start - dial) : Math.max(0, end - start),
    dns,
    connect: tcp < 0 ? -1 : tcp + tunnel + Math.max(ssl, 0),
    ssl,
    send: span(gotConn, wrote),
    wait: span(wrote, firstByte),
    receive: span(firstByte, end),
  };
}

function entriesOf(record: RequestRecord): HarEntry[] {
  const hops = hopsOf(record.events);
  const marks = record.response !== undefined
    ? (record.response as { [TIMING_MARKS]?: TimingMarks })[TIMING_MARKS]
    : undefined;
  const entries: HarEntry[] = [];
  let start = marks?.start ?? hops[0]?.events[0]?.time ?? performance.now();
  for (let h = 0; h < hops.length; h++) {
    const hop = hops[h];
    const isLast = h === hops.length - 1;
    const events = finalAttempt(hop.events);
    const got = last<GotConnEvent>(events, "gotconn");
    const done = last<ResponseDoneEvent>(events, "responsedone");
    const request = requestOf(events, hop.events[0]);
    let response: HarResponse;
    let timings: HarTimings;
    if (!isLast || hop.redirect !== undefined) {
      // A redirect hop: the client read its head and dropped its body, then moved on.
      const redirect = hop.redirect!;
      response = {
        status: redirect.status,
        statusText: "",
        httpVersion: "HTTP/1.1",
        cookies: [],
        headers: [],
        content: { size: 0, mimeType: "x-unknown" },
        redirectURL: redirect.to,
        headersSize: -1,
        bodySize: -1,
        comment: "redirect followed by the client: its headers were not kept",
      };
      timings = timingsFromEvents(events, start, redirect.time);
      start = redirect.time;
    } else if (record.response !== undefined) {
      const r = record.response;
      const headers = [...r.headers].map(([name, value]) => ({ name, value }));
      const ended = done !== undefined;
      response = {
        status: r.status,
        statusText: r.statusText,
        httpVersion: `HTTP/${done?.httpVersion ?? "1.1"}`,
        cookies: (r.headers.getSetCookie?.() ?? []).map(parseSetCookie),
        headers,
        content: {
          size: ended ? done.bytes : 0,
          mimeType: r.headers.get("content-type") ?? "x-unknown",
        },
        redirectURL: r.headers.get("location") ?? "",
        headersSize: -1,
        bodySize: ended ? done.bytes : -1,
      };
      if (!ended) response.comment = "body not read to its end when the HAR was written";
      else if (done.error !== undefined) response._error = errorText(done.error);
      if (hops.length === 1 && marks !== undefined) {
        // The request's own marks: exactly what timingsOf(response) reports.
        const t = timingsOf(r)!;
        const dialed = (type: string): boolean => events.some((e) => e.type === type);
        timings = {
          blocked: t.queued,
          dns: dialed("dnsstart") ? t.dns : -1,
          connect: dialed("connectstart") ? t.connect + t.proxy + t.tls : -1,
          ssl: dialed("tlshandshakestart") ? t.tls : -1,
          send: t.written,
          wait: t.ttfb,
          receive: ended ? t.transfer : -1,
        };
      } else {
        timings = timingsFromEvents(events, start, ended ? done.time : -1);
      }
    } else {
      // No Response: the request failed (or is still waiting for its head).
      response = {
        status: 0,
        statusText: "",
        httpVersion: "",
        cookies: [],
        headers: [],
        content: { size: 0, mimeType: "x-unknown" },
        redirectURL: "",
        headersSize: -1,
        bodySize: -1,
      };
      if (record.failed) response._error = errorText(record.error);
      else response.comment = "no response yet when the HAR was written";
      timings = timingsFromEvents(events, start, done?.time ?? performance.now());
    }
    const entry: HarEntry = {
      startedDateTime: iso(h === 0 ? (marks?.start ?? hop.events[0].time) : hop.events[0].time),
      time: sum(timings),
      request,
      response,
      cache: {},
      timings,
    };
    if (got !== undefined) {
      entry.serverIPAddress = got.remoteAddress.address;
      entry.connection = String(got.connection.id);
    }
    if (isLast && record.tcpInfo !== undefined) entry._tcpInfo = record.tcpInfo;
    entries.push(entry);
  }
  return entries;
}
