// Pool behaviour proved from the server side: accepted connections are counted by the server.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, WirefetchError } from "../../mod.ts";
import { delay, readRequest, startHttpServer, startRawServer } from "../support/servers.ts";
import {
  closeBounded,
  eventually,
  rejectionWithin,
  settlesWithin,
  within,
} from "../support/deadline.ts";

const OK = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

describe("origin pool", () => {
  it("serves 100 sequential requests over one connection", async () => {
    const server = await startHttpServer((_req, res) => res.end("hello"));
    const client = new Client();
    try {
      for (let i = 0; i < 100; i++) {
        const response = await client.fetch(server.url);
        assert.equal(await response.text(), "hello");
      }
      assert.equal(server.accepted, 1);
      assert.deepEqual(client.stats().total, {
        open: 1,
        idle: 1,
        active: 0,
        connecting: 0,
        queued: 0,
      });
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("opens exactly maxConnectionsPerHost connections for 32 concurrent requests", async () => {
    const server = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 20));
    const client = new Client({ maxConnectionsPerHost: 8 });
    try {
      const responses = await Promise.all(
        Array.from({ length: 32 }, () => client.fetch(server.url).then((r) => r.text())),
      );
      assert.equal(responses.length, 32);
      assert.equal(server.accepted, 8);
      assert.equal(client.stats().total.open, 8);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("queues requests beyond the limit and serves them in FIFO order", async () => {
    const order: string[] = [];
    // /0 is held by the server until the other four are queued: the order is proved by events,
    // not by how long /0 takes, so a loaded machine cannot let /0 finish before the rest queue.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await startHttpServer((req, res) => {
      order.push(req.url!);
      if (req.url === "/0") {
        arrived();
        gate.then(() => res.end(req.url));
      } else {
        res.end(req.url);
      }
    });
    const client = new Client({ maxConnectionsPerHost: 1 });
    try {
      const first = client.fetch(`${server.url}/0`);
      await within(firstArrived, 5000, "the server receiving /0");
      assert.equal(client.stats().total.active, 1);
      const rest = [1, 2, 3, 4].map((i) => client.fetch(`${server.url}/${i}`));
      assert.equal(client.stats().total.queued, 4);
      release();
      const texts = await within(
        Promise.all([first, ...rest].map(async (r) => (await r).text())),
        5000,
        "the five responses",
      );
      assert.deepEqual(texts, ["/0", "/1", "/2", "/3", "/4"]);
      assert.deepEqual(order, ["/0", "/1", "/2", "/3", "/4"]);
      assert.equal(server.accepted, 1);
    } finally {
      release();
      await client.close();
      await server.close();
    }
  });

  it("rejects a queued request after queueTimeout with ERR_QUEUE_TIMEOUT", async () => {
    // The first response is held until the queued request has been rejected: the connection is
    // busy for exactly as long as the test needs, however slow the machine.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = await startHttpServer((_req, res) => gate.then(() => res.end("slow")));
    const client = new Client({ maxConnectionsPerHost: 1, queueTimeout: 50 });
    try {
      const first = client.fetch(server.url);
      const error = await rejectionWithin(client.fetch(server.url), 5000, "the queued request");
      assert.ok(error instanceof TypeError);
      assert.ok(error.cause instanceof WirefetchError);
      assert.equal(error.cause.code, "ERR_QUEUE_TIMEOUT");
      release();
      assert.equal(await within((async () => (await first).text())(), 5000, "the first"), "slow");
    } finally {
      release();
      await client.close();
      await server.close();
    }
  });

  it("reuses the most recently used idle connection first", async () => {
    const server = await startHttpServer((req, res) => {
      res.end(String(req.socket.remotePort));
    });
    const client = new Client({ maxConnectionsPerHost: 2 });
    try {
      // Two concurrent requests open two connections; the one released last is reused next.
      const [a, b] = await Promise.all([client.fetch(server.url), client.fetch(server.url)]);
      const portA = await a.text();
      const portB = await b.text();
      assert.notEqual(portA, portB);
      const again = await (await client.fetch(server.url)).text();
      assert.equal(again, portB);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("closes idle connections beyond maxIdlePerHost", async () => {
    const server = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 10));
    const client = new Client({ maxConnectionsPerHost: 4, maxIdlePerHost: 1 });
    try {
      await Promise.all(
        Array.from({ length: 4 }, () => client.fetch(server.url).then((r) => r.text())),
      );
      assert.equal(client.stats().total.idle, 1);
      assert.equal(client.stats().total.open, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("closes an idle connection after idleTimeout", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const client = new Client({ idleTimeout: 50 });
    try {
      await (await client.fetch(server.url)).text();
      assert.equal(client.stats().total.idle, 1);
      // The default idle timeout is 4 s: closing within 2 s proves the 50 ms option was used.
      await eventually(() => client.stats().total.open === 0, 2000, "closing after idleTimeout");
      await (await client.fetch(server.url)).text();
      assert.equal(server.accepted, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("honours Keep-Alive: timeout=N from the server with a safety margin", async () => {
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        await readRequest(socket);
        socket.write("HTTP/1.1 200 OK\r\nkeep-alive: timeout=1\r\ncontent-length: 2\r\n\r\nok");
      }
    });
    const client = new Client({ idleTimeout: 60_000 });
    try {
      await (await client.fetch(server.url)).text();
      await delay(400);
      assert.equal(client.stats().total.idle, 1, "still idle well before the server's timeout");
      // timeout=1 minus a quarter-second margin: gone before the server would close it (the
      // client's own idleTimeout is a minute, so closing at all proves the header was honoured).
      await eventually(
        () => client.stats().total.open === 0,
        5000,
        "closing on Keep-Alive timeout",
      );
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("closes a connection after maxRequestsPerConnection", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const client = new Client({ maxRequestsPerConnection: 3 });
    try {
      for (let i = 0; i < 7; i++) await (await client.fetch(server.url)).text();
      assert.equal(server.accepted, 3);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("removes an idle connection the server closed (FIN) from the pool", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write(OK);
      await delay(20);
      socket.end();
    });
    const client = new Client();
    try {
      await (await client.fetch(server.url)).text();
      assert.equal(client.stats().total.idle, 1);
      // The server's FIN arrives 20 ms later; the default idle timeout (4 s) is far away.
      await eventually(() => client.stats().total.open === 0, 2000, "dropping the closed socket");
      await (await client.fetch(server.url)).text();
      assert.equal(server.accepted, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("closes an idle connection that receives unsolicited bytes", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write(OK);
      await delay(20);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    });
    const client = new Client();
    try {
      await (await client.fetch(server.url)).text();
      await eventually(() => client.stats().total.open === 0, 2000, "closing on stray bytes");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("retries a GET once on a new connection when a reused one turns out stale", async () => {
    // The server closes each connection after its first response without saying so, the way
    // a server whose idle timeout just fired does; the close races our next request.
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write(OK);
      await readRequest(socket);
      socket.destroy();
    });
    const client = new Client();
    try {
      await (await client.fetch(server.url)).text();
      const response = await client.fetch(server.url);
      assert.equal(await response.text(), "ok");
      assert.equal(server.accepted, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("never replays a POST that was written to a stale connection", async () => {
    let posts = 0;
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write(OK);
      const request = await readRequest(socket);
      if (request.method === "POST") posts++;
      socket.destroy();
    });
    const client = new Client();
    try {
      await (await client.fetch(server.url)).text();
      const error = await client.fetch(server.url, { method: "POST", body: "pay" }).then(
        () => assert.fail("POST must not be retried"),
        (e) => e,
      );
      assert.ok(error instanceof TypeError);
      const code = (error.cause as WirefetchError).code;
      assert.ok(["ERR_CONNECTION_CLOSED", "ERR_CONNECTION_RESET"].includes(code), code);
      assert.equal(posts, 1);
      assert.equal(server.accepted, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("replays a POST with an Idempotency-Key header after a stale connection", async () => {
    const server = await startRawServer(async (socket, index) => {
      await readRequest(socket);
      socket.write(OK);
      if (index === 0) {
        await readRequest(socket);
        socket.destroy();
        return;
      }
    });
    const client = new Client();
    try {
      await (await client.fetch(server.url)).text();
      const response = await client.fetch(server.url, {
        method: "POST",
        body: "pay",
        headers: { "idempotency-key": "abc" },
      });
      assert.equal(await response.text(), "ok");
      assert.equal(server.accepted, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("does not retry a failure on a new connection", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.destroy();
    });
    const client = new Client();
    try {
      const error = await client.fetch(server.url).then(() => assert.fail(), (e) => e);
      assert.equal(error.cause.code, "ERR_CONNECTION_CLOSED");
      assert.equal(server.accepted, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("closes gracefully: in-flight requests finish, new ones reject", async () => {
    // The response is held until close() has begun: the request is surely in flight then.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await startHttpServer((_req, res) => {
      arrived();
      gate.then(() => res.end("done"));
    });
    const client = new Client();
    try {
      const inFlight = client.fetch(server.url);
      await within(requestArrived, 5000, "the request reaching the server");
      const closing = client.close();
      const late = await rejectionWithin(client.fetch(server.url), 5000, "a fetch after close");
      assert.equal((late as TypeError & { cause: WirefetchError }).cause.code, "ERR_CLIENT_CLOSED");
      assert.equal(await settlesWithin(closing, 50), false, "close() waits for the request");
      release();
      assert.equal(
        await within((async () => (await inFlight).text())(), 5000, "in flight"),
        "done",
      );
      await within(closing, 5000, "close()");
      assert.equal(client.stats().total.open, 0);
    } finally {
      release();
      await closeBounded(client, [server]);
    }
  });

  it("closeIdle closes idle connections only", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const client = new Client();
    try {
      await (await client.fetch(server.url)).text();
      assert.equal(client.stats().total.idle, 1);
      client.closeIdle();
      assert.equal(client.stats().total.open, 0);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reports stats per origin", async () => {
    const a = await startHttpServer((_req, res) => res.end("a"));
    const b = await startHttpServer((_req, res) => res.end("b"));
    const client = new Client();
    try {
      await (await client.fetch(a.url)).text();
      await (await client.fetch(b.url)).text();
      const stats = client.stats();
      assert.equal(Object.keys(stats.origins).length, 2);
      assert.equal(stats.origins[new URL(a.url).origin].idle, 1);
      assert.equal(stats.total.idle, 2);
    } finally {
      await client.close();
      await a.close();
      await b.close();
    }
  });

  it("lets the process exit while connections sit idle", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    try {
      const started = performance.now();
      const result = await runChild(`
        const client = new Client({ idleTimeout: 600000 });
        await (await client.fetch(${JSON.stringify(server.url)})).text();
        console.log("idle " + client.stats().total.idle);
      `);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /idle 1/);
      // The child would hang for the 600 s idle timeout if the socket held the loop open.
      assert.ok(performance.now() - started < 15_000);
    } finally {
      await server.close();
    }
  });

  it("keeps the process alive for a request sent on a connection that just went idle", async () => {
    // The second request reuses the connection the first one left idle (whose socket was
    // unref'd, or on Deno is about to be) and is answered later: nothing but its socket keeps
    // the child's event loop running meanwhile, so the child must not exit before printing.
    const server = await startHttpServer((req, res) => {
      if (req.url === "/slow") setTimeout(() => res.end("late"), 200);
      else res.end("x");
    });
    try {
      const result = await runChild(`
        const client = new Client({ idleTimeout: 600000 });
        await (await client.fetch(${JSON.stringify(server.url)})).text();
        client.fetch(${JSON.stringify(new URL("/slow", server.url).href)})
          .then((response) => response.text())
          .then((text) => console.log("done " + text + " " + client.stats().total.open));
      `);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /done late 1/);
      assert.equal(server.accepted, 1);
    } finally {
      await server.close();
    }
  });
});

/**
 * Runs `body` as a module in a child process of this runtime, with `Client` imported from the
 * module under test; resolves with its exit code and output (killed after 20 s).
 */
async function runChild(body: string): Promise<{ code: number; stdout: string; stderr: string }> {
  // Under Node this file runs compiled to JavaScript (scripts/test_node.mjs), next to the
  // compiled mod.js; the child then is an .mjs file that imports it.
  const compiled = import.meta.url.endsWith(".js");
  const mod = new URL(compiled ? "../../mod.js" : "../../mod.ts", import.meta.url).href;
  const script = `import { Client } from ${JSON.stringify(mod)};\n${body}`;
  const { execFile } = await import("node:child_process");
  const { writeFileSync, mkdtempSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const file = join(mkdtempSync(join(tmpdir(), "wirefetch-")), compiled ? "child.mjs" : "child.ts");
  writeFileSync(file, script);
  // Deno needs `run -A`; Bun and Node run a file given alone.
  const isDeno = "Deno" in globalThis && !("Bun" in globalThis);
  const args = isDeno ? ["run", "-A", file] : [file];
  // Asynchronous: the server lives in this process and must keep answering.
  return await new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}
