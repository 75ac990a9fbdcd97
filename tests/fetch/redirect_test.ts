// Redirects as the Fetch standard's HTTP-redirect fetch: mode "error", UTF-8 Location bytes,
// maxRedirects, and the Referer and Origin each hop carries.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type * as http from "node:http";
import { Client, type WirefetchError } from "../../mod.ts";
import { readRequestHead, startHttpServer, startRawServer } from "../support/servers.ts";
import { fetchText, rejection, within } from "./helpers.ts";
import { closeBounded } from "../support/deadline.ts";

describe('redirect: "error"', () => {
  for (const status of [301, 302, 303, 307, 308]) {
    for (const location of [true, false]) {
      it(`is a network error for ${status} ${location ? "with" : "without"} Location`, async () => {
        const server = await startHttpServer((_req, res) => {
          if (location) res.setHeader("location", "/elsewhere");
          res.statusCode = status;
          res.end("moved");
        });
        const client = new Client();
        try {
          const error = await rejection(client.fetch(server.url, { redirect: "error" }));
          assert.ok(error instanceof TypeError);
          assert.equal(error.message, "fetch failed");
          assert.equal((error.cause as WirefetchError).code, "ERR_REDIRECT");
          // The redirect's body was drained: the connection is reused.
          const ok = await within(client.fetch(server.url, { redirect: "manual" }), 5_000, "");
          assert.equal(ok.status, status);
          await within(ok.text(), 5_000, "the body");
          assert.equal(server.accepted, 1);
        } finally {
          await closeBounded(client, [server]);
        }
      });
    }
  }

  it('returns a redirect without Location as the response in mode "follow"', async () => {
    const server = await startHttpServer((_req, res) => {
      res.statusCode = 302;
      res.end("no location");
    });
    const client = new Client();
    try {
      const response = await within(client.fetch(server.url), 5_000, "fetch");
      assert.equal(response.status, 302);
      assert.equal(await within(response.text(), 5_000, "the body"), "no location");
    } finally {
      await closeBounded(client, [server]);
    }
  });
});

describe("Location", () => {
  it("decodes its bytes as UTF-8 and resolves it against the response URL", async () => {
    const targets: string[] = [];
    const server = await startRawServer(async (socket) => {
      for (;;) {
        const head = await readRequestHead(socket);
        const target = head.split(" ")[1];
        targets.push(target);
        if (target === "/dir/start") {
          // Raw UTF-8 bytes, as many servers send them (é is C3 A9).
          socket.write(
            Buffer.from("HTTP/1.1 302 Found\r\nlocation: café/x?q=é\r\ncontent-length: 0\r\n\r\n"),
          );
        } else {
          socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
      }
    });
    const client = new Client();
    try {
      const response = await within(client.fetch(`${server.url}/dir/start`), 5_000, "fetch");
      assert.equal(await within(response.text(), 5_000, "the body"), "ok");
      // Relative to /dir/, percent-encoded once (not the latin1 reading "cafÃ©").
      assert.equal(targets[1], "/dir/caf%C3%A9/x?q=%C3%A9");
      assert.equal(response.url, `${server.url}/dir/caf%C3%A9/x?q=%C3%A9`);
    } finally {
      await closeBounded(client, [server]);
    }
  });
});

/** A server that redirects /N to /N-1 until /0. */
async function chainServer(): Promise<Awaited<ReturnType<typeof startHttpServer>>> {
  return await startHttpServer((req, res) => {
    const n = Number(req.url!.slice(1));
    if (n > 0) {
      res.statusCode = 302;
      res.setHeader("location", `/${n - 1}`);
    }
    res.end(String(n));
  });
}

describe("maxRedirects", () => {
  it("follows 20 redirects by default and fails on the 21st", async () => {
    const server = await chainServer();
    const client = new Client();
    try {
      const ok = await within(client.fetch(`${server.url}/20`), 5_000, "fetch");
      assert.equal(await within(ok.text(), 5_000, "the body"), "0");
      const error = await rejection(client.fetch(`${server.url}/21`));
      assert.equal((error.cause as WirefetchError).code, "ERR_TOO_MANY_REDIRECTS");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("takes a client default and a per-request value", async () => {
    const server = await chainServer();
    const client = new Client({ maxRedirects: 2 });
    try {
      assert.equal(await fetchText(client.fetch(`${server.url}/2`)), "0");
      const error = await rejection(client.fetch(`${server.url}/3`));
      assert.equal((error.cause as WirefetchError).code, "ERR_TOO_MANY_REDIRECTS");
      const more = await within(client.fetch(`${server.url}/3`, { maxRedirects: 3 }), 5_000, "3");
      assert.equal(await within(more.text(), 5_000, "the body"), "0");
      const none = await rejection(client.fetch(`${server.url}/1`, { maxRedirects: 0 }));
      assert.equal((none.cause as WirefetchError).code, "ERR_TOO_MANY_REDIRECTS");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("rejects invalid values with TypeError", async () => {
    for (const value of [-1, 1.5, NaN, Infinity, "3", null]) {
      assert.throws(() => new Client({ maxRedirects: value as number }), TypeError);
    }
    const client = new Client();
    try {
      for (const value of [-1, 1.5, NaN, "3"]) {
        const error = await rejection(
          client.fetch("http://127.0.0.1:9/", { maxRedirects: value as number }),
        );
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /maxRedirects/);
      }
    } finally {
      await client.close();
    }
  });
});

interface Seen {
  url: string;
  referer: string | undefined;
  origin: string | undefined;
  method: string;
}

/** Two servers (two origins): /r?to=URL&status=N redirects, anything else answers 200. */
async function twoOrigins(): Promise<
  { a: string; b: string; seen: Seen[]; close(): Promise<void> }
> {
  const seen: Seen[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    req.resume();
    seen.push({
      url: req.url!,
      referer: req.headers.referer,
      origin: req.headers.origin,
      method: req.method!,
    });
    const query = new URL(req.url!, "http://x").searchParams;
    if (query.has("to")) {
      res.statusCode = Number(query.get("status") ?? 302);
      res.setHeader("location", query.get("to")!);
      const policy = query.get("policy");
      if (policy !== null) res.setHeader("referrer-policy", policy);
    }
    res.end("done");
  };
  const a = await startHttpServer(handler);
  const b = await startHttpServer(handler, { host: "localhost" });
  return {
    a: a.url,
    b: b.url,
    seen,
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

describe("Referer", () => {
  it("sends none by default (no window, no location), as Node's fetch", async () => {
    const servers = await twoOrigins();
    const client = new Client();
    try {
      await fetchText(client.fetch(`${servers.a}/x`));
      assert.equal(servers.seen[0].referer, undefined);
    } finally {
      await client.close();
      await servers.close();
    }
  });

  it("follows referrerPolicy for an explicit referrer, per hop", async () => {
    const servers = await twoOrigins();
    const client = new Client();
    const referrer = `${servers.a}/page?secret=1#frag`;
    try {
      const cases: [ReferrerPolicy | undefined, string | undefined][] = [
        [undefined, `${servers.a}/page?secret=1`], // strict-origin-when-cross-origin, same origin
        ["no-referrer", undefined],
        ["origin", `${servers.a}/`],
        ["unsafe-url", `${servers.a}/page?secret=1`],
        ["same-origin", `${servers.a}/page?secret=1`],
      ];
      for (const [policy, expected] of cases) {
        servers.seen.length = 0;
        await fetchText(client.fetch(`${servers.a}/x`, { referrer, referrerPolicy: policy }));
        assert.equal(servers.seen[0].referer, expected, `policy ${policy}`);
      }
      // Cross-origin after a redirect: the default policy sends only the origin to b, and the
      // referrer stays reduced for the rest of the chain (it is what was sent).
      servers.seen.length = 0;
      const to = encodeURIComponent(`${servers.b}/landing`);
      await fetchText(client.fetch(`${servers.a}/r?to=${to}`, { referrer }));
      assert.deepEqual(servers.seen.map((s) => s.referer), [
        `${servers.a}/page?secret=1`,
        `${servers.a}/`,
      ]);
      // A redirect's Referrer-Policy header applies to the next hop.
      servers.seen.length = 0;
      await fetchText(client.fetch(`${servers.a}/r?to=%2Fnext&policy=no-referrer`, { referrer }));
      assert.deepEqual(servers.seen.map((s) => s.referer), [
        `${servers.a}/page?secret=1`,
        undefined,
      ]);
    } finally {
      await client.close();
      await servers.close();
    }
  });

  it("refuses an invalid referrer or referrerPolicy with TypeError", async () => {
    const client = new Client();
    try {
      for (
        const init of [{ referrer: "not a url" }, { referrerPolicy: "sometimes" }] as RequestInit[]
      ) {
        assert.ok(
          (await rejection(client.fetch("http://127.0.0.1:9/", init))) instanceof TypeError,
        );
      }
    } finally {
      await client.close();
    }
  });
});

describe("Origin", () => {
  it("is sent where the standard says when the environment has an origin (location)", async () => {
    const servers = await twoOrigins();
    const client = new Client();
    const had = Object.getOwnPropertyDescriptor(globalThis, "location");
    Object.defineProperty(globalThis, "location", {
      value: { href: `${servers.a}/page` },
      configurable: true,
      writable: true,
    });
    try {
      const hops = async (url: string, init: RequestInit = {}): Promise<(string | undefined)[]> => {
        servers.seen.length = 0;
        await fetchText(client.fetch(url, init));
        return servers.seen.map((s) => s.origin);
      };
      const toB = encodeURIComponent(`${servers.b}/landing`);
      const toA = encodeURIComponent(`${servers.a}/landing`);
      // Same origin GET: none. Same origin POST: the origin.
      assert.deepEqual(await hops(`${servers.a}/x`), [undefined]);
      assert.deepEqual(await hops(`${servers.a}/x`, { method: "POST", body: "x" }), [servers.a]);
      // A cross-origin hop is a CORS request: Origin, even for GET.
      assert.deepEqual(await hops(`${servers.a}/r?to=${toB}`), [undefined, servers.a]);
      // Through another origin and back: the origin is tainted, "null".
      assert.deepEqual(await hops(`${servers.b}/r?to=${toA}`), [servers.a, "null"]);
      // POST kept by 307 and 308 carries Origin on every hop.
      for (const status of [307, 308]) {
        assert.deepEqual(
          await hops(`${servers.a}/r?to=%2Fnext&status=${status}`, { method: "POST", body: "x" }),
          [servers.a, servers.a],
        );
      }
      // 302 turns POST into GET: no Origin on the same-origin hop.
      assert.deepEqual(
        await hops(`${servers.a}/r?to=%2Fnext&status=302`, { method: "POST", body: "x" }),
        [servers.a, undefined],
      );
      // mode "no-cors": a cross-origin request is opaque, not CORS: Origin only for non-GET.
      assert.deepEqual(await hops(`${servers.b}/x`, { mode: "no-cors" }), [undefined]);
      assert.deepEqual(
        await hops(`${servers.b}/x`, { mode: "no-cors", method: "POST", body: "x" }),
        [servers.a],
      );
      // mode "same-origin" refuses another origin, first hop or after a redirect.
      for (const url of [`${servers.b}/x`, `${servers.a}/r?to=${toB}`]) {
        const error = await rejection(client.fetch(url, { mode: "same-origin" }));
        assert.equal((error.cause as WirefetchError).code, "ERR_MODE");
      }
      // The default referrer is the environment's URL ("client").
      servers.seen.length = 0;
      await fetchText(client.fetch(`${servers.a}/y`));
      assert.equal(servers.seen[0].referer, `${servers.a}/page`);
    } finally {
      if (had) Object.defineProperty(globalThis, "location", had);
      else delete (globalThis as { location?: unknown }).location;
      await client.close();
      await servers.close();
    }
  });
});
