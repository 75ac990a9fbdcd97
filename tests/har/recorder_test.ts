// HarRecorder: HAR 1.2 that validates against the schema, timings that agree with timingsOf,
// and what failed requests, unread bodies and redirect hops produce.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, timingsOf } from "../../mod.ts";
import { HarRecorder } from "../../har.ts";
import { fixtures, startHttpServer } from "../support/servers.ts";
import { closeBounded, rejectionWithin, within } from "../support/deadline.ts";
import { assertValidHar } from "./helpers.ts";

const LIMIT = 5_000;

function get(client: Client, url: string, init?: RequestInit): Promise<Response> {
  return within(client.fetch(url, init), LIMIT, `fetch ${url}`);
}

describe("HarRecorder", () => {
  it("records each request with its heads, server, connection and the HAR 1.2 fields", async () => {
    const server = await startHttpServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.setHeader("set-cookie", ["session=abc; Path=/; HttpOnly", "theme=dark"]);
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => res.end(JSON.stringify({ method: req.method, body })));
    });
    const client = new Client();
    const recorder = new HarRecorder(client);
    try {
      const url = `${server.url}/items?page=2&q=a%20b`;
      await (await get(client, url, { headers: { cookie: "a=1; b=2" } })).json();
      await (await get(client, url, { method: "POST", body: "hello" })).json();
      await (await get(client, url)).arrayBuffer();
      const har = recorder.toJSON();
      assertValidHar(har);
      assert.equal(har.log.version, "1.2");
      assert.equal(har.log.creator.name, "wirefetch");
      assert.equal(har.log.entries.length, 3);
      const [first, post] = har.log.entries;
      assert.equal(first.request.method, "GET");
      assert.equal(first.request.url, url);
      assert.equal(first.request.httpVersion, "HTTP/1.1");
      assert.deepEqual(first.request.queryString, [
        { name: "page", value: "2" },
        { name: "q", value: "a b" },
      ]);
      assert.deepEqual(first.request.cookies, [{ name: "a", value: "1" }, {
        name: "b",
        value: "2",
      }]);
      assert.deepEqual(first.request.headers[0], { name: "host", value: server.url.slice(7) });
      assert.equal(first.request.bodySize, 0);
      assert.ok(first.request.headersSize > 0);
      assert.equal(post.request.method, "POST");
      assert.equal(post.request.bodySize, 5);
      assert.equal(first.response.status, 200);
      assert.equal(first.response.statusText, "OK");
      assert.equal(first.response.httpVersion, "HTTP/1.1");
      assert.equal(first.response.content.mimeType, "application/json");
      const body = JSON.stringify({ method: "GET", body: "" });
      assert.equal(first.response.content.size, body.length);
      assert.equal(first.response.bodySize, body.length);
      assert.equal(first.response.redirectURL, "");
      assert.equal(first.response.headersSize, -1);
      assert.deepEqual(first.response.cookies, [
        { name: "session", value: "abc", path: "/", httpOnly: true },
        { name: "theme", value: "dark" },
      ]);
      assert.ok(first.response.headers.some((h) => h.name === "content-type"));
      assert.deepEqual(first.cache, {});
      // One connection served all three (the server counts it).
      assert.equal(server.accepted, 1);
      for (const entry of har.log.entries) {
        assert.equal(entry.serverIPAddress, "127.0.0.1");
        assert.equal(entry.connection, first.connection);
        assert.ok(!Number.isNaN(Date.parse(entry.startedDateTime)));
      }
      assert.equal(recorder.size, 3);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("has the timings of timingsOf, with dns and connect -1 on a reused connection", async () => {
    const server = await startHttpServer((_req, res) => res.end("t"));
    const client = new Client();
    const recorder = new HarRecorder(client);
    try {
      // By name, so there is a DNS lookup to time.
      const url = server.url.replace("127.0.0.1", "localhost");
      const responses: Response[] = [];
      for (let i = 0; i < 2; i++) {
        const response = await get(client, url);
        await response.text();
        responses.push(response);
      }
      const [fresh, reused] = recorder.toJSON().log.entries;
      const t = timingsOf(responses[0])!;
      assert.deepEqual(fresh.timings, {
        blocked: t.queued,
        dns: t.dns,
        connect: t.connect + t.tls,
        ssl: -1,
        send: t.written,
        wait: t.ttfb,
        receive: t.transfer,
      });
      assert.ok(Math.abs(fresh.time - t.total) < 1e-6, `${fresh.time} vs ${t.total}`);
      const u = timingsOf(responses[1])!;
      assert.equal(u.reused, true);
      assert.deepEqual(reused.timings, {
        blocked: u.queued,
        dns: -1,
        connect: -1,
        ssl: -1,
        send: u.written,
        wait: u.ttfb,
        receive: u.transfer,
      });
      assert.ok(Math.abs(reused.time - u.total) < 1e-6, `${reused.time} vs ${u.total}`);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("times the TLS handshake as ssl, inside connect", async () => {
    const server = await startHttpServer((_req, res) => res.end("s"), { tls: true });
    const client = new Client({ caCerts: [fixtures.ca] });
    const recorder = new HarRecorder(client);
    try {
      const response = await get(client, server.url);
      await response.text();
      const [entry] = recorder.toJSON().log.entries;
      assertValidHar(recorder.toJSON());
      const t = timingsOf(response)!;
      assert.ok(t.tls > 0);
      assert.equal(entry.timings.ssl, t.tls);
      assert.equal(entry.timings.connect, t.connect + t.tls);
      assert.equal(entry.request.url, `${server.url}/`);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("records a failed request with status 0 and the error's code", async () => {
    const server = await startHttpServer((_req, res) => res.end());
    const url = server.url;
    await server.close(); // nothing listens there any more
    const client = new Client();
    const recorder = new HarRecorder(client);
    try {
      await rejectionWithin(client.fetch(url), LIMIT, "fetch of a closed port");
      const har = recorder.toJSON();
      assertValidHar(har);
      const [entry] = har.log.entries;
      assert.equal(entry.response.status, 0);
      assert.equal(entry.response.httpVersion, "");
      assert.equal(entry.response.bodySize, -1);
      assert.match(entry.response._error!, /ERR_CONNECTION_REFUSED/);
      assert.equal(entry.timings.send, -1);
      assert.equal(entry.timings.wait, -1);
      assert.equal(entry.timings.receive, -1);
      assert.equal(entry.serverIPAddress, undefined);
    } finally {
      await closeBounded(client, []);
    }
  });

  it("marks an unread body, then fills it in once it is read", async () => {
    // The server holds the end of the body until the test has written its first HAR.
    let finish = (): void => {};
    const server = await startHttpServer((_req, res) => {
      res.setHeader("content-length", 1000);
      res.write("x".repeat(600));
      finish = () => res.end("x".repeat(400));
    });
    const client = new Client();
    const recorder = new HarRecorder(client);
    try {
      const response = await get(client, server.url);
      const before = recorder.toJSON();
      assertValidHar(before);
      const [unread] = before.log.entries;
      assert.equal(unread.response.status, 200);
      assert.equal(unread.response.bodySize, -1);
      assert.equal(unread.timings.receive, -1);
      assert.match(unread.response.comment!, /not read to its end/);
      finish();
      await within(response.text(), LIMIT, "the body");
      const [read] = recorder.toJSON().log.entries;
      assert.equal(read.response.bodySize, 1000);
      assert.equal(read.timings.receive, timingsOf(response)!.transfer);
      assert.equal(read.response.comment, undefined);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("gives each hop of a followed redirect an entry of its own", async () => {
    const server = await startHttpServer((req, res) => {
      if (req.url === "/old") {
        res.statusCode = 302;
        res.setHeader("location", "/new?x=1");
        res.end();
      } else res.end("moved here");
    });
    const client = new Client();
    const recorder = new HarRecorder(client);
    try {
      const response = await get(client, `${server.url}/old`);
      assert.equal(await response.text(), "moved here");
      const har = recorder.toJSON();
      assertValidHar(har);
      const [hop, final] = har.log.entries;
      assert.equal(har.log.entries.length, 2);
      assert.equal(hop.request.url, `${server.url}/old`);
      assert.equal(hop.response.status, 302);
      assert.equal(hop.response.redirectURL, `${server.url}/new?x=1`);
      assert.match(hop.response.comment!, /redirect/);
      assert.equal(final.request.url, `${server.url}/new?x=1`);
      assert.deepEqual(final.request.queryString, [{ name: "x", value: "1" }]);
      assert.equal(final.response.status, 200);
      assert.equal(final.response.bodySize, "moved here".length);
      // The second hop reused the first hop's connection.
      assert.equal(final.connection, hop.connection);
      assert.equal(final.timings.connect, -1);
      assert.ok(Date.parse(final.startedDateTime) >= Date.parse(hop.startedDateTime));
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("still delivers the events to the request's own trace target, and stop() ends recording", async () => {
    const server = await startHttpServer((_req, res) => res.end("e"));
    const client = new Client();
    const recorder = new HarRecorder(client);
    try {
      const trace = new EventTarget();
      const seen: string[] = [];
      for (const type of ["gotconn", "responsedone"]) {
        trace.addEventListener(type, (e) => seen.push(e.type));
      }
      await (await get(client, server.url, { trace } as RequestInit)).text();
      assert.deepEqual(seen, ["gotconn", "responsedone"]);
      recorder.stop();
      await (await get(client, server.url)).text();
      assert.equal(recorder.toJSON().log.entries.length, 1);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("adds the connection's TCP_INFO as _tcpInfo with the client's tcpInfo option", async () => {
    const server = await startHttpServer((_req, res) => res.end("z".repeat(5000)));
    const client = new Client({ tcpInfo: true });
    const plain = new Client();
    const recorder = new HarRecorder(client);
    const without = new HarRecorder(plain);
    try {
      for (let i = 0; i < 2; i++) await (await get(client, server.url)).text();
      await (await get(plain, server.url)).text();
      const har = recorder.toJSON();
      assertValidHar(har);
      // On every runtime: Deno and Bun through their FFI, Node through koffi.
      for (const entry of har.log.entries) {
        const info = entry._tcpInfo!;
        assert.ok(info, "each entry, the reused connection's too");
        assert.equal(info.state, "ESTABLISHED");
        assert.ok(info.bytesReceived! >= 5000);
        assert.match(info.raw, /^([0-9a-f]{2})+$/);
        assert.equal(info.raw.length, 2 * info.length);
      }
      // Read when each response ended: the second reading has seen more bytes.
      const [a, b] = har.log.entries;
      assert.ok(b._tcpInfo!.bytesReceived! > a._tcpInfo!.bytesReceived!);
      assert.equal(without.toJSON().log.entries[0]._tcpInfo, undefined);
    } finally {
      await closeBounded(plain, []);
      await closeBounded(client, [server]);
    }
  });
});
