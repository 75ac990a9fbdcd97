// Unix domain sockets: the `unix` option (client and per request), origin-form with the URL's
// Host, pooling, trace events carrying the path, Linux abstract sockets, the runtime's own
// server on a socket path, and tcpInfo's answer.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Client,
  type ConnectDoneEvent,
  type ConnectStartEvent,
  type GotConnEvent,
  type WirefetchError,
} from "../../mod.ts";
import { tcpInfo } from "../../tcp_info.ts";

interface UnixServer {
  path: string;
  readonly accepted: number;
  requests: { url: string; host: string | undefined }[];
  close(): Promise<void>;
}

async function startUnixServer(path: string): Promise<UnixServer> {
  const requests: { url: string; host: string | undefined }[] = [];
  let accepted = 0;
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? "", host: req.headers.host });
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ path: req.url }));
  });
  server.on("connection", () => accepted++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  return {
    path,
    get accepted(): number {
      return accepted;
    },
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function socketPath(): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "wirefetch-unix-"));
  return {
    path: join(dir, "api.sock"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

describe("unix domain sockets", () => {
  it("sends every request of a unix client over the socket, origin-form with the URL's Host, pooled", async () => {
    const { path, cleanup } = socketPath();
    const server = await startUnixServer(path);
    const client = new Client({ unix: path });
    const events: string[] = [];
    client.addEventListener("connectstart", (e) => {
      const event = e as ConnectStartEvent;
      events.push(`start ${event.network} ${event.address}`);
    });
    client.addEventListener("connectdone", (e) => {
      const event = e as ConnectDoneEvent;
      events.push(`done ${event.network} ${event.address} ${event.error}`);
    });
    let remote: unknown;
    client.addEventListener("gotconn", (e) => (remote ??= (e as GotConnEvent).remoteAddress));
    try {
      for (let i = 0; i < 3; i++) {
        const response = await client.fetch(`http://docker/v1.43/containers/json?all=${i}`);
        assert.deepEqual(await response.json(), { path: `/v1.43/containers/json?all=${i}` });
      }
      assert.equal(server.accepted, 1);
      assert.deepEqual(server.requests.map((r) => r.host), ["docker", "docker", "docker"]);
      assert.deepEqual(events, [`start unix ${path}`, `done unix ${path} undefined`]);
      assert.deepEqual(remote, { address: path, port: 0, family: "unix" });
      assert.deepEqual(Object.keys(client.stats().origins), [`unix:${path} http://docker`]);
    } finally {
      await client.close();
      await server.close();
      cleanup();
    }
  });

  it("takes the socket per request, in its own pool", async () => {
    const { path, cleanup } = socketPath();
    const server = await startUnixServer(path);
    const client = new Client();
    try {
      const response = await client.fetch("http://localhost/info", { unix: path });
      assert.deepEqual(await response.json(), { path: "/info" });
      assert.deepEqual(Object.keys(client.stats().origins), [`unix:${path} http://localhost`]);
    } finally {
      await client.close();
      await server.close();
      cleanup();
    }
  });

  it("reaches a Linux abstract socket", async () => {
    const name = `\0wirefetch-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
    const server = await startUnixServer(name);
    const client = new Client({ unix: name });
    try {
      const response = await client.fetch("http://abstract/x");
      assert.deepEqual(await response.json(), { path: "/x" });
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("talks to the runtime's own server on a socket path (Deno.serve, Bun.serve, node:http)", async () => {
    const { path, cleanup } = socketPath();
    const g = globalThis as {
      Deno?: { serve?: (...args: unknown[]) => { shutdown(): Promise<void> } };
      Bun?: { serve?: (options: unknown) => { stop(force: boolean): void } };
    };
    const handler = (request: Request): Response =>
      new Response(`native ${new URL(request.url).pathname} ${request.headers.get("host")}`);
    let stop: () => Promise<void>;
    if (g.Bun?.serve !== undefined) {
      const server = g.Bun.serve({ unix: path, fetch: handler });
      stop = () => Promise.resolve(server.stop(true));
    } else if (g.Deno?.serve !== undefined) {
      const server = g.Deno.serve({ path, onListen() {} }, handler);
      stop = () => server.shutdown();
    } else {
      const server = await startUnixServer(path);
      stop = server.close;
    }
    const client = new Client({ unix: path });
    try {
      const response = await client.fetch("http://engine/_ping");
      const text = await response.text();
      if (g.Bun?.serve !== undefined || g.Deno?.serve !== undefined) {
        assert.equal(text, "native /_ping engine");
      } else {
        assert.deepEqual(JSON.parse(text), { path: "/_ping" });
      }
    } finally {
      await client.close();
      await stop();
      cleanup();
    }
  });

  it("answers tcpInfo for a unix connection with 'not a TCP socket'", async () => {
    const { path, cleanup } = socketPath();
    const server = await startUnixServer(path);
    const client = new Client({ unix: path });
    let result: ReturnType<typeof tcpInfo> | undefined;
    client.addEventListener("gotconn", (e) => (result = tcpInfo((e as GotConnEvent).connection)));
    try {
      await (await client.fetch("http://docker/")).arrayBuffer();
      assert.equal(result?.info, undefined);
      assert.equal(result?.code, "INVALID_TARGET");
      assert.match(result!.reason!, /^not a TCP socket: a unix domain socket/);
    } finally {
      await client.close();
      await server.close();
      cleanup();
    }
  });

  it("fails with ERR_CONNECTION_REFUSED naming the path when nothing listens there", async () => {
    const { path, cleanup } = socketPath();
    const client = new Client({ unix: path });
    try {
      const error = await client.fetch("http://docker/").then(
        () => assert.fail(),
        (e) => e as TypeError & { cause: WirefetchError },
      );
      assert.ok(error instanceof TypeError);
      assert.equal(error.cause.code, "ERR_CONNECTION_REFUSED");
      assert.ok(error.cause.message.startsWith(`cannot connect to the unix socket "${path}": `));
    } finally {
      await client.close();
      cleanup();
    }
  });
});
