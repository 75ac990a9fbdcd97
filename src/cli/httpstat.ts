/**
 * `httpstat`: one request (or N over one pooled client) made visible, in the manner of
 * httpstat and curl's `-w`: where it connected, the response head, a waterfall of DNS, TCP,
 * TLS, server processing and transfer, and the connection's TCP_INFO with warnings.
 *
 * @module
 */

import { Client, type ClientOptions } from "../client.ts";
import { systemLookup } from "../net/resolve.ts";
import {
  type GotConnEvent,
  type ResponseDoneEvent,
  TRACE_EVENT_TYPES,
  type TraceEvent,
} from "../trace/events.ts";
import type { Timings } from "../trace/timings.ts";
import { tcpInfo } from "../tcp_info/tcp_info.ts";
import { type TcpInfoJson, tcpInfoToJSON } from "../tcp_info/json.ts";
import type { TcpInfo } from "../tcp_info/types.ts";
import { type TcpWarning, warnings } from "../tcp_info/warnings.ts";
import { HarRecorder } from "../har/recorder.ts";
import { ProgressBar } from "./progress.ts";
import { traceLine } from "./trace_log.ts";

/** Parsed command-line options. */
export interface HttpstatOptions {
  /** The URL, or null for the embedded demo server. */
  url: string | null;
  method: string | null;
  headers: [string, string][];
  data: string | null;
  followRedirects: boolean;
  insecure: boolean;
  output: string | null;
  json: boolean;
  slo: Record<string, number>;
  count: number;
  help: boolean;
  /** `--har FILE`: write the requests as HAR 1.2. */
  har: string | null;
  /** `--trace`: print every trace event on a timeline. */
  trace: boolean;
  /** The route flags, curl's names: --proxy, --unix-socket, --cert, --key, --cacert, --resolve. */
  route?: RouteFlags;
}

/** curl's flags for how to reach the server (paths of PEM files for the TLS ones). */
export interface RouteFlags {
  proxy?: string;
  unixSocket?: string;
  cert?: string;
  key?: string;
  cacert?: string;
  /** `host:port:address` entries: `host` resolves to `address` (the port is not checked). */
  resolve: string[];
}

/** What the command writes to; the tests pass their own. */
export interface HttpstatIo {
  write(text: string): void;
  error(text: string): void;
  color: boolean;
  /** Writes to stderr as is (no newline added); the progress bar draws with it. */
  errorRaw?(text: string): void;
  /** Stderr is a terminal: `-o FILE` draws a progress bar there. */
  progress?: boolean;
}

const USAGE = `usage: httpstat [options] [URL]

Makes a request with wirefetch and shows where its time went. Without a URL it measures an
embedded local demo server.

  -X METHOD          request method (default GET, or POST with -d)
  -H "Name: value"   add a request header (repeatable)
  -d DATA            send DATA as the request body
  -L                 follow redirects
  -k                 skip TLS certificate verification (Bun and Node)
  -o FILE            save the body to FILE
  -n N               make N requests over one pooled client (later ones reuse the connection)
  --json             print one JSON object instead of text
  --trace            print every trace event with its time from the start and its fields
  --har FILE         write the requests (and redirect hops) as HAR 1.2 to FILE
  --slo k=MS,...     fail with exit code 4 when a timing exceeds its limit
                     (keys: total, ttfb, dns, connect, tls, transfer)
  --proxy URL        use this proxy (http, https, socks5, socks5h; user:pass@ allowed)
  --unix-socket PATH connect to this unix domain socket instead of the URL's host
  --cert FILE        client certificate (PEM) for mutual TLS, with --key FILE
  --cacert FILE      trust the CA certificates (PEM) in FILE as well
  --resolve H:P:ADDR resolve host H to ADDR (repeatable)
  -h, --help         this help

With -o FILE and stderr a terminal (or HTTPSTAT_PROGRESS=1), a progress bar shows the download.
Exit codes: 0 ok, 1 request failed, 2 usage error, 4 SLO violated. NO_COLOR disables colour.`;

const SLO_KEYS = ["total", "ttfb", "dns", "connect", "tls", "transfer", "queued"] as const;

// The client options for the route flags: PEM files read, --resolve as a lookup.
async function routeOptions(flags: RouteFlags): Promise<ClientOptions> {
  const { readFile } = await import("node:fs/promises");
  const pem = (path: string | undefined): Promise<string | undefined> =>
    path === undefined ? Promise.resolve(undefined) : readFile(path, "utf8");
  const [cert, key, ca] = await Promise.all([pem(flags.cert), pem(flags.key), pem(flags.cacert)]);
  const pinned = new Map<string, string>();
  for (const entry of flags.resolve) {
    const first = entry.indexOf(":");
    const second = entry.indexOf(":", first + 1);
    pinned.set(
      entry.slice(0, first).toLowerCase(),
      entry.slice(second + 1).replace(/^\[|\]$/g, ""),
    );
  }
  return {
    proxy: flags.proxy,
    unix: flags.unixSocket,
    tls: { cert, key, ca },
    lookup: pinned.size === 0 ? undefined : (host) => {
      const address = pinned.get(host.toLowerCase());
      if (address !== undefined) {
        return Promise.resolve([{ address, family: address.includes(":") ? 6 : 4 }]);
      }
      return systemLookup(host);
    },
  };
}

/**
 * Parses httpstat's arguments; throws an Error with a usage message when they are wrong.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./httpstat.ts";
 * const options = parseArgs(["-H", "accept: text/plain", "-n", "3", "http://127.0.0.1:8080/"]);
 * console.log(options.count); // 3
 * ```
 */
export function parseArgs(args: readonly string[]): HttpstatOptions {
  const options: HttpstatOptions = {
    url: null,
    method: null,
    headers: [],
    data: null,
    followRedirects: false,
    insecure: false,
    output: null,
    json: false,
    slo: {},
    count: 1,
    help: false,
    har: null,
    trace: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case "-X":
        options.method = value().toUpperCase();
        break;
      case "-H": {
        const header = value();
        const colon = header.indexOf(":");
        if (colon <= 0) throw new Error(`-H wants "Name: value", got ${JSON.stringify(header)}`);
        options.headers.push([header.slice(0, colon).trim(), header.slice(colon + 1).trim()]);
        break;
      }
      case "-d":
        options.data = value();
        break;
      case "-L":
        options.followRedirects = true;
        break;
      case "-k":
        options.insecure = true;
        break;
      case "-o":
        options.output = value();
        break;
      case "-n": {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 10_000) {
          throw new Error("-n wants a whole number from 1 to 10000");
        }
        options.count = n;
        break;
      }
      case "--json":
        options.json = true;
        break;
      case "--trace":
        options.trace = true;
        break;
      case "--har":
        options.har = value();
        break;
      case "--slo":
        for (const part of value().split(",")) {
          const [key, ms] = part.split("=");
          if (!(SLO_KEYS as readonly string[]).includes(key) || !(Number(ms) >= 0)) {
            throw new Error(`--slo wants key=MS with key one of ${SLO_KEYS.join(", ")}`);
          }
          options.slo[key] = Number(ms);
        }
        break;
      // Route flags (curl's names), gathered in options.route.
      case "--proxy":
      case "--unix-socket":
      case "--cert":
      case "--key":
      case "--cacert":
      case "--resolve": {
        const route = options.route ??= { resolve: [] };
        const v = value();
        if (arg === "--proxy") route.proxy = v;
        else if (arg === "--unix-socket") route.unixSocket = v;
        else if (arg === "--cert") route.cert = v;
        else if (arg === "--key") route.key = v;
        else if (arg === "--cacert") route.cacert = v;
        else if (/^[^:]+:\d+:.+$/.test(v)) route.resolve.push(v);
        else throw new Error(`--resolve wants host:port:address, got ${JSON.stringify(v)}`);
        break;
      }
      case "-h":
      case "--help":
        options.help = true;
        break;
      default:
        if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
        if (options.url !== null) throw new Error("only one URL");
        options.url = arg;
    }
  }
  return options;
}

/** One request's outcome, as `--json` prints it. */
export interface RequestReport {
  url: string;
  status: number;
  statusText: string;
  httpVersion: string | undefined;
  headers: [string, string][];
  bodyBytes: number;
  connectionId: number | undefined;
  reused: boolean;
  connected: { local: string; remote: string } | null;
  tls: { version: string | null; alpn: string | null } | null;
  timings: Timings;
  /** TCP_INFO with its raw bytes as one hex string. */
  tcpInfo: TcpInfoJson | null;
  tcpInfoUnavailable: string | null;
  warnings: TcpWarning[];
  events: string[];
  /** With `--trace`: each event's line of the timeline. */
  trace?: string[];
}

function endpoint(address: { address: string; port: number; family: string }): string {
  if (address.family === "unix") return address.address;
  return address.family === "IPv6"
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}

async function runOne(
  client: Client,
  url: string,
  options: HttpstatOptions,
  io: HttpstatIo,
): Promise<{ report: RequestReport; body: Uint8Array }> {
  const trace = new EventTarget();
  const events: TraceEvent[] = [];
  const start = performance.now();
  for (
    const type of options.trace ? TRACE_EVENT_TYPES : [
      "getconn",
      "dnsstart",
      "dnsdone",
      "connectstart",
      "connectdone",
      "proxyconnectstart",
      "proxyconnectdone",
      "tlshandshakestart",
      "tlshandshakedone",
      "gotconn",
      "wroterequest",
      "gotfirstresponsebyte",
      "redirect",
      "retry",
      "responsedone",
      "connclose",
    ]
  ) {
    trace.addEventListener(type, (e) => events.push(e as TraceEvent));
  }
  const init: RequestInit & { trace: EventTarget } = {
    method: options.method ?? (options.data !== null ? "POST" : "GET"),
    headers: options.headers,
    body: options.data ?? undefined,
    redirect: options.followRedirects ? "follow" : "manual",
    trace,
  };
  const response = await client.fetch(url, init);
  const body = options.output !== null
    ? await readWithProgress(response, io)
    : new Uint8Array(await response.arrayBuffer());
  const gotconns = events.filter((e) => e.type === "gotconn") as GotConnEvent[];
  const got = gotconns.at(-1);
  const done = events.findLast((e) => e.type === "responsedone") as ResponseDoneEvent;
  // Read TCP_INFO while the connection is still open (idle in the pool).
  let info: TcpInfo | null = null;
  let unavailable: string | null = null;
  const closed = events.some((e) =>
    e.type === "connclose" && e.connectionId === got?.connectionId
  ) as boolean;
  if (got !== undefined && !closed) {
    const result = tcpInfo(got.connection);
    if (result.info !== undefined) info = result.info;
    else unavailable = result.reason;
  } else {
    unavailable = got === undefined ? "no connection" : "the server closed the connection";
  }
  const report: RequestReport = {
    url: response.url || url,
    status: response.status,
    statusText: response.statusText,
    httpVersion: done?.httpVersion,
    headers: [...response.headers],
    bodyBytes: body.length,
    connectionId: got?.connectionId,
    reused: got?.reused ?? false,
    connected: got
      ? { local: endpoint(got.localAddress), remote: endpoint(got.remoteAddress) }
      : null,
    tls: url.startsWith("https:") && got
      ? { version: got.connection.tlsVersion, alpn: got.connection.alpnProtocol }
      : null,
    timings: done.timings,
    tcpInfo: info ? tcpInfoToJSON(info) : null,
    tcpInfoUnavailable: unavailable,
    warnings: info ? warnings(info) : [],
    events: events.map((e) => e.type),
  };
  if (options.trace) report.trace = events.map((e) => traceLine(e, start));
  return { report, body };
}

/** Reads a body for `-o FILE`, drawing the progress bar when stderr is a terminal. */
async function readWithProgress(response: Response, io: HttpstatIo): Promise<Uint8Array> {
  const length = Number(response.headers.get("content-length"));
  const bar = new ProgressBar(
    (text) => (io.errorRaw ?? io.error)(text),
    Number.isSafeInteger(length) && length > 0 ? length : null,
    io.progress === true && io.errorRaw !== undefined,
  );
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  while (reader !== undefined) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    bar.update(value.length);
  }
  bar.done();
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

const ms = (value: number): string => `${Math.round(value)}ms`;

function paint(io: HttpstatIo, code: string, text: string): string {
  return io.color ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function center(text: string, width: number): string {
  const left = Math.floor((width - text.length) / 2);
  return " ".repeat(Math.max(0, left)) + text + " ".repeat(Math.max(0, width - text.length - left));
}

/**
 * Renders a request's report as httpstat's text.
 *
 * @example
 * ```ts ignore
 * console.log(renderText(report, { write() {}, error() {}, color: false }));
 * ```
 */
export function renderText(report: RequestReport, io: HttpstatIo): string {
  const lines: string[] = [];
  if (report.connected) {
    lines.push(
      `Connected to ${paint(io, "36", report.connected.remote)} from ${report.connected.local}` +
        ` (connection ${report.connectionId}${report.reused ? ", reused" : ""})`,
    );
  }
  if (report.tls) {
    lines.push(
      `TLS ${report.tls.version ?? "version not exposed by this runtime"}, ALPN ${
        report.tls.alpn ?? "none"
      }`,
    );
  }
  lines.push("");
  lines.push(
    paint(io, "32", `HTTP/${report.httpVersion ?? "1.1"}`) + " " +
      paint(io, "36", `${report.status} ${report.statusText}`),
  );
  for (const [name, value] of report.headers) lines.push(`${paint(io, "90", name)}: ${value}`);
  lines.push("");
  lines.push(`Body: ${report.bodyBytes} bytes`);
  lines.push("");
  const t = report.timings;
  const phases: [string, number][] = [
    ["DNS Lookup", t.dns],
    ["TCP Connection", t.connect],
    ["TLS Handshake", t.tls],
    ["Server Processing", t.ttfb],
    ["Content Transfer", t.transfer],
  ];
  // A proxy tunnel (CONNECT, SOCKS5) gets its own box between TCP and TLS.
  const tunnel = t.proxy > 0;
  if (tunnel) phases.splice(2, 0, ["Proxy Tunnel", t.proxy]);
  // Boxes as wide as their titles plus a margin; the rows below line up with their edges.
  const widths = phases.map(([name]) => name.length + 3);
  lines.push(" " + phases.map(([name], i) => center(name, widths[i])).join(" "));
  lines.push(
    "[" + phases.map(([, v], i) => paint(io, "36", center(ms(v), widths[i]))).join("|") + "]",
  );
  lines.push(" " + widths.map((w) => " ".repeat(w)).join("|") + "|");
  const marks: [string, number][] = [
    ["namelookup", t.cumulative.namelookup],
    ["connect", t.cumulative.connect],
    ...(tunnel ? [["proxyconnect", t.cumulative.connect + t.proxy] as [string, number]] : []),
    ["pretransfer", t.cumulative.pretransfer],
    ["starttransfer", t.cumulative.starttransfer],
    ["total", t.cumulative.total],
  ];
  // Each milestone ends under the right edge of its phase's box, as in httpstat.
  let edge = 0;
  for (let i = 0; i < marks.length; i++) {
    edge += widths[i] + 1;
    const label = `${marks[i][0]}:${ms(marks[i][1])}`;
    lines.push(" ".repeat(Math.max(0, edge + 1 - label.length)) + paint(io, "36", label));
  }
  lines.push("");
  const info = report.tcpInfo;
  if (info) {
    const rtt = info.rtt !== undefined ? `${(info.rtt / 1000).toFixed(3)} ms` : "?";
    const rttVar = info.rttVar !== undefined ? `${(info.rttVar / 1000).toFixed(3)} ms` : "?";
    lines.push(
      `TCP ${info.state}: rtt ${rtt} (var ${rttVar}), cwnd ${info.sndCwnd ?? "?"} segments, ` +
        `retransmits ${info.totalRetrans ?? info.retransmits ?? "?"}, ` +
        `bytes sent ${info.bytesSent ?? info.bytesAcked ?? "?"} / received ${
          info.bytesReceived ?? "?"
        }`,
    );
    if (report.warnings.length === 0) lines.push("TCP warnings: none");
    for (const w of report.warnings) {
      lines.push(paint(io, "33", `TCP warning ${w.code}: ${w.message}`));
    }
  } else {
    lines.push(`TCP_INFO unavailable: ${report.tcpInfoUnavailable}`);
  }
  return lines.join("\n");
}

function checkSlo(slo: Record<string, number>, timings: Timings): string[] {
  const violations: string[] = [];
  for (const [key, limit] of Object.entries(slo)) {
    const value = timings[key as keyof Timings] as number;
    if (value > limit) violations.push(`${key} ${ms(value)} > ${limit}ms`);
  }
  return violations;
}

async function startDemoServer(): Promise<{ url: string; close(): void }> {
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => {
    // A little server time so the waterfall has something to show.
    setTimeout(() => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ hello: "from the embedded demo server", path: req.url }));
    }, 15);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://localhost:${port}/demo`,
    close: () => {
      server.closeAllConnections?.();
      server.close();
    },
  };
}

/**
 * Runs httpstat with `args`; returns the exit code.
 *
 * @example
 * ```ts ignore
 * const code = await main(["http://127.0.0.1:8080/"], { write: console.log, error: console.error, color: false });
 * ```
 */
export async function main(args: readonly string[], io: HttpstatIo): Promise<number> {
  let options: HttpstatOptions;
  try {
    options = parseArgs(args);
  } catch (error) {
    io.error(`httpstat: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    io.write(USAGE);
    return 0;
  }
  const demo = options.url === null ? await startDemoServer() : null;
  const url = options.url ?? demo!.url;
  if (demo && !options.json) {
    io.write(`No URL given: measuring an embedded demo server at ${url}\n`);
  }
  let client: Client;
  try {
    client = new Client({
      unsafelyIgnoreCertificateErrors: options.insecure,
      ...(options.route ? await routeOptions(options.route) : {}),
    });
  } catch (error) {
    io.error(`httpstat: ${(error as Error).message}`);
    demo?.close();
    return 2;
  }
  const recorder = options.har !== null ? new HarRecorder(client) : null;
  const reports: RequestReport[] = [];
  try {
    let lastBody: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < options.count; i++) {
      const { report, body } = await runOne(client, url, options, io);
      reports.push(report);
      lastBody = body;
    }
    if (options.output !== null) {
      const { writeFile } = await import("node:fs/promises");
      await writeFile(options.output, lastBody);
    }
  } catch (error) {
    const cause = (error as Error).cause as { code?: string } | undefined;
    const message = `${(error as Error).message}${cause?.code ? ` (${cause.code})` : ""}`;
    if (options.json) io.write(JSON.stringify({ url, error: message }));
    else io.error(`httpstat: ${message}`);
    // A failed request is worth a HAR too: that is when someone else needs to look.
    if (recorder !== null) await writeHar(recorder, options.har!);
    await client.close();
    demo?.close();
    return 1;
  }
  await client.close();
  demo?.close();
  if (recorder !== null) await writeHar(recorder, options.har!);

  const last = reports.at(-1)!;
  const violations = checkSlo(options.slo, last.timings);
  if (options.json) {
    io.write(JSON.stringify({
      ...last,
      requests: reports.length > 1 ? reports.map((r) => ({ ...r, tcpInfo: undefined })) : undefined,
      slo: Object.keys(options.slo).length > 0 ? { limits: options.slo, violations } : undefined,
    }));
  } else {
    if (options.trace) {
      reports.forEach((r, i) => {
        io.write(`Trace of request #${i + 1} (ms from its start):`);
        for (const line of r.trace ?? []) io.write(line);
        io.write("");
      });
    }
    io.write(renderText(reports[0], io));
    if (reports.length > 1) {
      io.write(`\n${reports.length} requests over one pooled client:`);
      reports.forEach((r, i) => {
        const t = r.timings;
        io.write(
          `  #${i + 1} conn ${r.connectionId}${r.reused ? " reused" : " new   "} dns ${
            ms(t.dns)
          } tcp ${ms(t.connect)} tls ${ms(t.tls)} ttfb ${ms(t.ttfb)} total ${ms(t.total)}`,
        );
      });
    }
    if (options.output !== null) io.write(`\nBody saved to ${options.output}`);
    if (options.har !== null) io.write(`HAR written to ${options.har}`);
    for (const v of violations) io.error(paint(io, "31", `SLO violated: ${v}`));
  }
  return violations.length > 0 ? 4 : 0;
}

async function writeHar(recorder: HarRecorder, file: string): Promise<void> {
  const { writeFile } = await import("node:fs/promises");
  await writeFile(file, JSON.stringify(recorder, null, 2) + "\n");
}
