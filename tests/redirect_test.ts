// Redirect modes and the Fetch standard's rewriting rules.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, type WirefetchError } from "../mod.ts";
import { readRequest, startRawServer } from "./support/servers.ts";

interface Seen {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: string;
}

/** A server that answers from a routing table and records every request. */
async function routes(table: Record<string, (seen: Seen) => string>) {
  const seen: Seen[] = [];
  const server = await startRawServer(async (socket) => {
    while (!socket.destroyed) {
      const request = await readRequest(socket);
      const entry: Seen = {
        method: request.method,
        target: request.target,
        headers: request.headers,
        body: new TextDecoder().decode(request.body),
      };
      seen.push(entry);
      const route = table[request.target.split("?")[0]];
      socket.write(route ? route(entry) : "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    }
  });
  return { server, seen };
}

const redirect = (status: number, location: string) => (): string =>
  `HTTP/1.1 ${status} Moved\r\nlocation: ${location}\r\ncontent-length: 5\r\n\r\nmoved`;
const ok = (seen: Seen): string => {
  const body = JSON.stringify(seen);
  return `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};

describe("redirects", () => {
  it("follows a chain, sets url and redirected, and reuses the connection", async () => {
    const { server } = await routes({
      "/a": redirect(301, "/b"),
      "/b": redirect(302, "/c"),
      "/c": redirect(307, "/final?x=1"),
      "/final": ok,
    });
    const client = new Client();
    try {
      const response = await client.fetch(`${server.url}/a`);
      assert.equal(response.status, 200);
      assert.equal(response.redirected, true);
      assert.equal(response.url, `${server.url}/final?x=1`);
      assert.equal((await response.json()).target, "/final?x=1");
      assert.equal(server.accepted, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("turns POST into GET on 301 and 302 and drops the body and its headers", async () => {
    for (const status of [301, 302]) {
      const { server } = await routes({ "/post": redirect(status, "/to"), "/to": ok });
      const client = new Client();
      try {
        const response = await client.fetch(`${server.url}/post`, {
          method: "POST",
          body: "data",
          headers: { "content-type": "text/plain", "x-keep": "1" },
        });
        const seen = await response.json();
        assert.equal(seen.method, "GET");
        assert.equal(seen.body, "");
        assert.equal(seen.headers["content-type"], undefined);
        assert.equal(seen.headers["content-length"], undefined);
        assert.equal(seen.headers["x-keep"], "1");
      } finally {
        await client.close();
        await server.close();
      }
    }
  });

  it("turns PUT into GET on 303 but keeps HEAD", async () => {
    const { server } = await routes({ "/put": redirect(303, "/to"), "/to": ok });
    const client = new Client();
    try {
      const seen = await (await client.fetch(`${server.url}/put`, { method: "PUT", body: "x" }))
        .json();
      assert.equal(seen.method, "GET");
      const head = await client.fetch(`${server.url}/put`, { method: "HEAD" });
      assert.equal(head.status, 200);
      await head.body?.cancel();
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("keeps method and body on 307 and 308", async () => {
    for (const status of [307, 308]) {
      const { server } = await routes({ "/p": redirect(status, "/to"), "/to": ok });
      const client = new Client();
      try {
        const seen = await (await client.fetch(`${server.url}/p`, { method: "POST", body: "keep" }))
          .json();
        assert.equal(seen.method, "POST");
        assert.equal(seen.body, "keep");
      } finally {
        await client.close();
        await server.close();
      }
    }
  });

  it("strips Authorization, Cookie and Proxy-Authorization on a cross-origin hop", async () => {
    const target = await routes({ "/to": ok });
    const { server } = await routes({
      "/same": redirect(302, "/to"),
      "/to": ok,
      "/cross": redirect(302, `${target.server.url}/to`),
    });
    const client = new Client();
    const secrets = { authorization: "Bearer s", cookie: "c=1", "proxy-authorization": "p" };
    try {
      const same = await (await client.fetch(`${server.url}/same`, { headers: secrets })).json();
      assert.equal(same.headers.authorization, "Bearer s");
      assert.equal(same.headers.cookie, "c=1");
      const cross = await (await client.fetch(`${server.url}/cross`, { headers: secrets })).json();
      assert.equal(cross.headers.authorization, undefined);
      assert.equal(cross.headers.cookie, undefined);
      assert.equal(cross.headers["proxy-authorization"], undefined);
      assert.equal(cross.headers.host, new URL(target.server.url).host);
    } finally {
      await client.close();
      await server.close();
      await target.server.close();
    }
  });

  it("returns the redirect itself with redirect: manual", async () => {
    const { server } = await routes({ "/a": redirect(302, "/b") });
    const client = new Client();
    try {
      const response = await client.fetch(`${server.url}/a`, { redirect: "manual" });
      assert.equal(response.status, 302);
      assert.equal(response.headers.get("location"), "/b");
      assert.equal(response.redirected, false);
      assert.equal(await response.text(), "moved");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("rejects with redirect: error", async () => {
    const { server } = await routes({ "/a": redirect(302, "/b") });
    const client = new Client();
    try {
      const error = await client.fetch(`${server.url}/a`, { redirect: "error" }).then(
        () => assert.fail(),
        (e) => e,
      );
      assert.ok(error instanceof TypeError);
      assert.equal((error.cause as WirefetchError).code, "ERR_REDIRECT");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("rejects after 20 redirects", async () => {
    const { server, seen } = await routes({ "/loop": redirect(302, "/loop") });
    const client = new Client();
    try {
      const error = await client.fetch(`${server.url}/loop`).then(() => assert.fail(), (e) => e);
      assert.equal((error.cause as WirefetchError).code, "ERR_TOO_MANY_REDIRECTS");
      assert.equal(seen.length, 21);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("refuses to resend a stream body on 307", async () => {
    const { server } = await routes({ "/p": redirect(307, "/to"), "/to": ok });
    const client = new Client();
    try {
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("once"));
          controller.close();
        },
      });
      const error = await client.fetch(`${server.url}/p`, {
        method: "POST",
        body,
        // @ts-ignore: Node's RequestInit wants this for streams.
        duplex: "half",
      }).then(() => assert.fail(), (e) => e);
      assert.equal((error.cause as WirefetchError).code, "ERR_REDIRECT");
    } finally {
      await client.close();
      await server.close();
    }
  });
});
