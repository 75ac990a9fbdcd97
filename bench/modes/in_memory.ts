/**
 * wirefetch's own CPU cost per request, without the kernel or a server: each build's socket
 * connector is replaced by one whose sockets answer every request with a canned nginx-like
 * response (5 header fields, a 12-byte body) on the next microtask. Requests/s here is the
 * client alone, so this mode shows hot-path changes that the noise of a shared machine hides in
 * the loopback modes. Compare builds with `--baseline REF`.
 *
 * @module
 */

import { fetchCandidate, latencyCase, latencyTable, roundRatio, table } from "../harness.ts";
import { fmt, type LatencyResult } from "../harness.ts";
import type { Mode, ModeContext, WirefetchBuild } from "./types.ts";

const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 30 Nov 2026 06:00:00 GMT\r\n" +
    "Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n" +
    "hello world\n",
);

interface Listener {
  onSocketData(chunk: Uint8Array): void;
}

/** A socket whose peer answers each write (one request) with RESPONSE. */
class MemorySocket {
  readonly localAddress = { address: "127.0.0.1", port: 1, family: "IPv4" as const };
  readonly remoteAddress = { address: "127.0.0.1", port: 9, family: "IPv4" as const };
  readonly alpnProtocol = null;
  readonly fd = -1;
  #listener: Listener | null = null;
  #closed = false;
  #answer = (): void => {
    if (this.#closed) return;
    // A copy, as the runtime adapters hand over chunks the listener owns, with an ArrayBuffer of
    // its own as theirs have: JSC keeps a small `slice()` in its heap without one, and the first
    // `subarray` of it then allocates one and copies, which no runtime's socket chunk costs.
    const chunk = new Uint8Array(new ArrayBuffer(RESPONSE.length));
    chunk.set(RESPONSE);
    this.#listener!.onSocketData(chunk);
  };
  listen(listener: Listener): void {
    this.#listener = listener;
  }
  write(_data: Uint8Array): null {
    queueMicrotask(this.#answer);
    return null;
  }
  pause(): void {}
  resume(): void {}
  unref(): void {}
  ref(): void {}
  close(): void {
    this.#closed = true;
  }
}

/** Points the build's connector for this runtime at memory sockets. */
async function patch(build: WirefetchBuild): Promise<void> {
  const ext = build.entry.endsWith(".js") ? "js" : "ts";
  const module = await import(new URL(`./src/runtime/connector.${ext}`, build.entry).href) as {
    defaultConnector(): { connect: (options: unknown) => Promise<unknown> };
  };
  module.defaultConnector().connect = () => Promise.resolve(new MemorySocket());
}

/** The in-memory mode. */
export const inMemoryMode: Mode = {
  flag: "--in-memory",
  summary: "wirefetch's own CPU per request: sockets replaced by in-memory ones (no kernel)",
  ratios: [],
  big: false,
  async run(context: ModeContext, builds: WirefetchBuild[]): Promise<Record<string, unknown>> {
    for (const build of builds) await patch(build);
    const candidates = builds.map(({ mod, suffix }) => {
      const client = new mod.Client({ maxConnectionsPerHost: 16 });
      return fetchCandidate(`wirefetch${suffix}`, (u) => client.fetch(u), () => client.close());
    });
    const target = {
      label: "memory",
      smallUrl: "http://127.0.0.1:9/small",
      bigUrl: null,
      stats: () => Promise.resolve(null),
      stop: () => {},
    };
    const small: Record<string, LatencyResult[]> = {};
    try {
      for (const concurrency of context.concurrencies) {
        const results = await latencyCase(target, candidates, concurrency, context.settings);
        small[`c${concurrency}`] = results;
        console.log(`\nin-memory GET, c=${concurrency}\n`);
        console.log(latencyTable(results));
      }
    } finally {
      for (const c of candidates) await c.close();
    }
    if (builds.length > 1) {
      const rows = builds.slice(1).map((b) => [
        `wirefetch/wirefetch${b.suffix}`,
        ...Object.values(small).map((r) =>
          fmt(roundRatio(r, "wirefetch", `wirefetch${b.suffix}`), 2)
        ),
      ]);
      console.log();
      console.log(table(["ratio", ...Object.keys(small)], rows));
    }
    return { small };
  },
};
