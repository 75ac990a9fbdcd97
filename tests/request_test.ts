// Request normalization: what new Request would accept or refuse, without building one.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  flattenHeaders,
  normalizeMethod,
  type RequestSpec,
  toRequestSpec,
} from "../src/request.ts";
import { Client } from "../mod.ts";
import { readRequest, startHttpServer, startRawServer } from "./support/servers.ts";
import { closeBounded, withDeadline } from "./support/deadline.ts";

describe("request normalization", () => {
  it("upper-cases standard methods and refuses forbidden ones", () => {
    assert.equal(normalizeMethod("get"), "GET");
    assert.equal(normalizeMethod("Delete"), "DELETE");
    assert.equal(normalizeMethod("PURGE"), "PURGE");
    for (const m of ["CONNECT", "trace", "Track"]) {
      assert.throws(() => normalizeMethod(m), TypeError);
    }
    assert.throws(() => normalizeMethod("GE T"), TypeError);
  });

  it("flattens every HeadersInit form to lowercase names and trimmed values", () => {
    assert.deepEqual(flattenHeaders({ "X-A": " 1 " }), ["x-a", "1"]);
    assert.deepEqual(flattenHeaders([["X-B", "2"]]), ["x-b", "2"]);
    assert.deepEqual(flattenHeaders(new Headers({ "X-C": "3" })), ["x-c", "3"]);
    assert.throws(
      () => flattenHeaders([["a", "b", "c"]] as unknown as [string, string][]),
      TypeError,
    );
  });

  it("takes credentials out of the URL into Basic authorization", () => {
    const spec = toRequestSpec("http://us%C3%A9r:p%40ss@example.test/", undefined) as RequestSpec;
    assert.equal(spec.url.username, "");
    const auth = spec.headers[spec.headers.indexOf("authorization") + 1];
    const decoded = new TextDecoder().decode(
      Uint8Array.from(atob(auth.slice(6)), (c) => c.charCodeAt(0)),
    );
    assert.equal(decoded, "usér:p@ss");
  });

  it("keeps a caller's Host header for virtual hosting and drops framing headers", () => {
    const spec = toRequestSpec("http://127.0.0.1/", {
      headers: { host: "example.test", "transfer-encoding": "chunked", connection: "close" },
    }) as RequestSpec;
    assert.equal(spec.host, "example.test");
    assert.equal(spec.closeAfter, true);
    assert.deepEqual(spec.headers, []);
  });

  it("refuses a Content-Length that contradicts the body", () => {
    assert.throws(
      () =>
        toRequestSpec("http://x.test/", {
          method: "POST",
          body: "abc",
          headers: { "content-length": "5" },
        }),
      TypeError,
    );
  });

  it("refuses Connection: upgrade and unknown transfer codings", () => {
    assert.throws(
      () => toRequestSpec("http://x.test/", { headers: { connection: "upgrade" } }),
      TypeError,
    );
    assert.throws(
      () => toRequestSpec("http://x.test/", { headers: { "transfer-encoding": "gzip" } }),
      TypeError,
    );
  });

  it("copies a byte body so later changes to the caller's buffer are not sent", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const spec = toRequestSpec("http://x.test/", { method: "POST", body: bytes }) as RequestSpec;
    bytes[0] = 9;
    assert.deepEqual(spec.body, { kind: "bytes", bytes: new Uint8Array([1, 2, 3]) });
  });

  it("never keeps the caller's URL object: a change to it afterwards is not seen", () => {
    const input = new URL("http://x.test/a");
    const spec = toRequestSpec(input, undefined) as RequestSpec;
    input.pathname = "/b";
    assert.notEqual(spec.url, input);
    assert.equal(spec.url.href, "http://x.test/a");
  });

  it("parses a repeated URL text once, and a URL with credentials every time", () => {
    const first = toRequestSpec("http://x.test/same", undefined) as RequestSpec;
    const second = toRequestSpec("http://x.test/same", undefined) as RequestSpec;
    assert.equal(first.url, second.url);
    const a = toRequestSpec("http://u:p@x.test/", undefined) as RequestSpec;
    const b = toRequestSpec("http://u:p@x.test/", undefined) as RequestSpec;
    assert.notEqual(a.url, b.url);
    assert.equal(b.url.username, "");
    assert.equal(b.headers[b.headers.indexOf("authorization") + 1], `Basic ${btoa("u:p")}`);
  });

  it("resolves a text against a location that appears later, not as the shared URL", () => {
    // "http:x" is relative to an http: base, absolute without one.
    const before = toRequestSpec("http:x", undefined) as RequestSpec;
    assert.equal(before.url.href, "http://x/");
    const had = Object.getOwnPropertyDescriptor(globalThis, "location");
    Object.defineProperty(globalThis, "location", {
      value: { href: "http://example.test/dir/" },
      configurable: true,
    });
    try {
      const after = toRequestSpec("http:x", undefined) as RequestSpec;
      assert.equal(after.url.href, "http://example.test/dir/x");
    } finally {
      if (had) Object.defineProperty(globalThis, "location", had);
      else delete (globalThis as { location?: unknown }).location;
    }
  });

  it("shares the URL of a Request input's url as of a string's", () => {
    const a = toRequestSpec(new Request("http://x.test/req"), undefined) as RequestSpec;
    const b = toRequestSpec("http://x.test/req", undefined) as RequestSpec;
    assert.equal(a.url, b.url);
  });

  it("reads a headers object afresh on every request, however it changed", () => {
    const fields: Record<string, string> = { "X-A": "1", "X-B": "2" };
    const headersOf = () =>
      (toRequestSpec("http://x.test/", { headers: fields }) as RequestSpec).headers;
    assert.deepEqual(headersOf(), ["x-a", "1", "x-b", "2"]);
    fields["X-B"] = "3";
    assert.deepEqual(headersOf(), ["x-a", "1", "x-b", "3"]);
    delete fields["X-B"];
    assert.deepEqual(headersOf(), ["x-a", "1"]);
    fields["x-c"] = "4";
    assert.deepEqual(headersOf(), ["x-a", "1", "x-c", "4"]);
    // The same fields again: a list of its own, which the request may change.
    const first = headersOf();
    first.push("x-z", "z");
    assert.deepEqual(headersOf(), ["x-a", "1", "x-c", "4"]);
    const spec = toRequestSpec("http://x.test/", { headers: fields }) as RequestSpec;
    assert.equal(spec.casing?.get("x-a"), "X-A");
    assert.equal(spec.casing?.has("x-c"), false);
    // A field that became invalid is refused, even after the same valid ones.
    fields["x-c"] = "bad\r\nvalue";
    assert.throws(() => headersOf(), TypeError);
    fields["x-c"] = "4";
    assert.deepEqual(headersOf(), ["x-a", "1", "x-c", "4"]);
  });

  it("takes Host and Connection out of every request's fields, the same ones again included", () => {
    const fields = { Host: "v.test", Connection: "close", "X-A": "1" };
    for (let i = 0; i < 2; i++) {
      const spec = toRequestSpec("http://x.test/", { headers: fields }) as RequestSpec;
      assert.equal(spec.host, "v.test");
      assert.equal(spec.closeAfter, true);
      assert.deepEqual(spec.headers, ["x-a", "1"]);
    }
  });
});

describe("request URLs at the client", () => {
  it("sends a URL object changed between two fetches to its new origin", async () => {
    const one = await startHttpServer((_req, res) => res.end("one"));
    const two = await startHttpServer((_req, res) => res.end("two"));
    const client = new Client();
    try {
      const url = new URL(one.url);
      assert.equal(await (await withDeadline(client.fetch(url))).text(), "one");
      url.port = String(two.port);
      assert.equal(await (await withDeadline(client.fetch(url))).text(), "two");
      assert.equal(one.accepted, 1);
      assert.equal(two.accepted, 1);
    } finally {
      await closeBounded(client, [one, two]);
    }
  });

  it("lets an observer's change to the URL it is given reach no request", async () => {
    const one = await startHttpServer((req, res) => res.end(`one ${req.url}`));
    const two = await startHttpServer((req, res) => res.end(`two ${req.url}`));
    const client = new Client();
    const stop = client.observe({
      onRequest(_method, url) {
        url.port = String(two.port);
        url.pathname = "/changed";
        return null;
      },
    });
    try {
      for (let i = 0; i < 2; i++) {
        const response = await withDeadline(client.fetch(`${one.url}/p`));
        assert.equal(await response.text(), "one /p");
      }
      stop();
      const response = await withDeadline(client.fetch(`${one.url}/p`));
      assert.equal(await response.text(), "one /p");
      assert.equal(two.accepted, 0);
    } finally {
      await closeBounded(client, [one, two]);
    }
  });

  it("sends string bodies as UTF-8 with their length in bytes, whatever the characters", async () => {
    const texts = [
      "",
      "plain ascii",
      "caf\u00e9 \u00fc\u00df", // 2-byte characters
      "\u20ac \u4e2d\u6587", // 3-byte characters
      "\u{1f600} \u{1f680}", // surrogate pairs: 4 bytes each
      "lone \ud800 and \udc00 surrogates", // each becomes U+FFFD, 3 bytes
      "\u00e9".repeat(16 * 1024), // longer than the strings kept as text: encoded up front
      "x".repeat(40_000) + "\u{1f600}".repeat(6_000), // head and body over one write's limit
    ];
    const received: { length: string; body: Uint8Array }[] = [];
    const server = await startRawServer(async (socket) => {
      for (let i = 0; i < texts.length; i++) {
        const request = await readRequest(socket);
        received.push({ length: request.headers["content-length"], body: request.body });
        socket.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
      }
    });
    const client = new Client();
    try {
      for (const text of texts) {
        const response = await withDeadline(
          client.fetch(server.url, { method: "POST", body: text }),
        );
        await response.arrayBuffer();
      }
      const encoder = new TextEncoder();
      assert.equal(received.length, texts.length);
      for (let i = 0; i < texts.length; i++) {
        const expected = encoder.encode(texts[i]);
        assert.equal(received[i].length, String(expected.length), `text ${i}`);
        assert.deepEqual(received[i].body, expected, `text ${i}`);
      }
      assert.equal(server.accepted, 1);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("checks a Content-Length the caller set against a string body's UTF-8 length", () => {
    const ok = toRequestSpec("http://x.test/", {
      method: "POST",
      body: "caf\u00e9",
      headers: { "content-length": "5" },
    }) as RequestSpec;
    assert.equal(ok.body?.kind === "text" && ok.body.length, 5);
    assert.throws(
      () =>
        toRequestSpec("http://x.test/", {
          method: "POST",
          body: "caf\u00e9",
          headers: { "content-length": "4" },
        }),
      TypeError,
    );
  });
});
