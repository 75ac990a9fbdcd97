/**
 * HAR export: record a client's requests as an HTTP Archive (HAR 1.2), the format browser
 * devtools, HAR viewers and many proxies open, so a colleague can look at a slow request
 * without wirefetch's tools.
 *
 * Each entry has the request and response heads, the timings (`blocked` is the time queued for a
 * connection, `dns`/`connect`/`ssl` are -1 on a reused connection, `connect` includes `ssl`),
 * the server's IP address, the connection id, and with the client's `tcpInfo` option the
 * connection's TCP_INFO as `_tcpInfo`.
 *
 * @example Record requests and write a .har file
 * ```ts ignore
 * import { Client } from "@wirefetch/fetch";
 * import { HarRecorder } from "@wirefetch/fetch/har";
 *
 * const client = new Client();
 * const recorder = new HarRecorder(client);
 * for (let i = 0; i < 3; i++) await (await client.fetch("https://example.com/")).text();
 * await Deno.writeTextFile("example.har", JSON.stringify(recorder, null, 2));
 * await client.close();
 * ```
 *
 * @module
 */

export { HarRecorder, type HarRecorderOptions } from "./src/har/recorder.ts";
export type {
  Har,
  HarContent,
  HarCookie,
  HarEntry,
  HarNameValue,
  HarRequest,
  HarResponse,
  HarTimings,
} from "./src/har/types.ts";
export type { TcpInfoJson } from "./src/tcp_info/json.ts";
