// A fetched response whose body arrived whole behaves as the runtime's own Response with that
// body: on Node its bytes are held beside a null-body Response (HeldFetchResponse in
// src/response.ts), so every way of reading the body is checked against a native Response side by
// side, on every runtime.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ResponseHead, ResponseParser } from "../src/h1/response_parser.ts";
import { makeResponse } from "../src/response.ts";
import { withDeadline } from "./support/deadline.ts";

const encoder = new TextEncoder();

// What the parser gives makeResponse for a whole response.
function fetched(bytes: Uint8Array<ArrayBuffer>): Response {
  const head = {
    status: 200,
    statusText: "OK",
    headers: ["content-type", "application/json"],
  } as unknown as ResponseHead;
  return makeResponse(head, bytes, "http://example.test/", false, null, false);
}

function native(bytes: Uint8Array<ArrayBuffer>): Response {
  return new Response(bytes.slice(), { headers: { "content-type": "application/json" } });
}

async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    return `rejected: ${(error as Error).constructor.name}`;
  }
}

type Scenario = (response: Response) => Promise<unknown>;

const scenarios: Record<string, Scenario> = {
  "bodyUsed before and after text()": async (r) => [r.bodyUsed, await r.text(), r.bodyUsed],
  "a second text() rejects": async (r) => [await r.text(), await outcome(() => r.text())],
  "body is the same stream on every read, unlocked and unused": (r) =>
    Promise.resolve([r.body === r.body, r.body!.locked, r.bodyUsed]),
  "body after text() is locked and used": async (r) => {
    await r.text();
    return [r.body !== null, r.body!.locked, r.bodyUsed];
  },
  "a read from body makes it used; text() then rejects": async (r) => {
    const reader = r.body!.getReader();
    const chunk = await reader.read();
    reader.releaseLock();
    return [chunk.value!.length, r.bodyUsed, await outcome(() => r.text())];
  },
  "a locked, unread body is not used, but text() rejects": async (r) => {
    r.body!.getReader();
    return [r.bodyUsed, await outcome(() => r.text())];
  },
  "text() after body was looked at": async (r) => {
    void r.body;
    return [await r.text(), r.bodyUsed, r.body!.locked];
  },
  "clone(): both read": async (r) => {
    const copy = r.clone();
    return [await r.text(), await copy.json(), r.bodyUsed, copy.bodyUsed];
  },
  "clone() after text() throws": async (r) => {
    await r.text();
    return await outcome(() => Promise.resolve(r.clone()));
  },
  "clone() after body was looked at": async (r) => {
    void r.body;
    const copy = r.clone();
    return [await r.text(), await copy.text()];
  },
  "blob() takes the Content-Type": async (r) => {
    const blob = await r.blob();
    return [blob.type, blob.size, await blob.text()];
  },
  "arrayBuffer() is a fresh ArrayBuffer of the body": async (r) => {
    const buffer = await r.arrayBuffer();
    return [buffer instanceof ArrayBuffer, buffer.byteLength, new Uint8Array(buffer)[0]];
  },
  "cancelling body makes it used": async (r) => {
    await r.body!.cancel();
    return [r.bodyUsed, await outcome(() => r.text())];
  },
  "a BYOB reader reads the body": async (r) => {
    const reader = r.body!.getReader({ mode: "byob" });
    const chunk = await reader.read(new Uint8Array(100));
    return [chunk.value!.length, r.bodyUsed];
  },
  "for await over body": async (r) => {
    let length = 0;
    for await (const chunk of r.body!) length += chunk.length;
    return [length, r.bodyUsed];
  },
  "body passed to a new Response": (r) => new Response(r.body).text(),
  "formData() of a JSON body rejects": (r) => outcome(() => r.formData()),
};

describe("a fetched response's whole body reads as a native Response's", () => {
  for (const [name, scenario] of Object.entries(scenarios)) {
    it(name, async () => {
      const body = encoder.encode('{"a":1}');
      const expected = await outcome(() => scenario(native(body)));
      const actual = await outcome(() => scenario(fetched(body)));
      assert.deepEqual(actual, expected);
      // The bytes handed to the response are never written into.
      assert.deepEqual(body, encoder.encode('{"a":1}'));
    });
  }

  it("text() strips a UTF-8 BOM and replaces invalid bytes; bad JSON is a SyntaxError", async () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, 0x41, 0xff]);
    assert.equal(await fetched(bytes).text(), await native(bytes).text());
    const bad = encoder.encode("{");
    assert.equal(
      await outcome(() => fetched(bad).json()),
      await outcome(() => native(bad).json()),
    );
  });

  it("an empty body is a stream that ends with no bytes", async () => {
    const empty = fetched(new Uint8Array(0));
    assert.notEqual(empty.body, null);
    // Deno's own Response hands out one empty chunk first; either way nothing but the end comes.
    let length = 0;
    for await (const chunk of empty.body!) length += chunk.length;
    assert.equal(length, 0);
    assert.equal(empty.bodyUsed, true);
    assert.equal(await fetched(new Uint8Array(0)).text(), "");
  });
});

// A parser that keeps every head it parses, in order (the same object again where its head cache
// served one).
function headCollector(): { parser: ResponseParser; heads: ResponseHead[] } {
  const heads: ResponseHead[] = [];
  const parser = new ResponseParser({
    onInformational() {},
    onHead(h) {
      heads.push(h);
    },
    onBody() {},
  }, 8192);
  return { parser, heads };
}

/** A response as the client builds it: the head parsed from `head`, then `body`. */
function parsedResponse(head: string, body: Uint8Array<ArrayBuffer>): Response {
  const { parser, heads } = headCollector();
  parser.start(false);
  parser.execute(encoder.encode(head));
  return makeResponse(heads[0], body, "http://example.test/", false, null, false);
}

const PLAIN_HEAD = "HTTP/1.1 200 OK\r\nServer: nginx\r\nVary: a\r\nVary: b\r\n" +
  "Content-Length: 5\r\n\r\n";

// Bodies around the sizes and bytes where a runtime may be handed the body in another form
// (on Deno small ASCII bodies go in as strings): each must come back exactly.
const BODIES: Record<string, Uint8Array<ArrayBuffer>> = {
  "empty": new Uint8Array(0),
  "12 ASCII bytes": encoder.encode("hello world\n"),
  "64 ASCII bytes": encoder.encode("a".repeat(63) + "\n"),
  "65 ASCII bytes": encoder.encode("b".repeat(64) + "\n"),
  "NUL and DEL": new Uint8Array([0x00, 0x41, 0x7f, 0x0a]),
  "one byte 0x80": new Uint8Array([0x41, 0x80, 0x42]),
  "latin1 0xe9 (not UTF-8)": new Uint8Array([0x63, 0x61, 0x66, 0xe9]),
  "UTF-8 é": encoder.encode("café"),
  "a UTF-8 BOM": new Uint8Array([0xef, 0xbb, 0xbf, 0x41]),
  "a BOM after the first character": encoder.encode("a\ufeffb"),
  "U+FFFD as sent": encoder.encode("a\ufffdb"),
  "4-byte UTF-8 (emoji) and a lone surrogate's bytes": new Uint8Array([
    ...encoder.encode("x😀y"),
    0xed,
    0xa0,
    0x80,
  ]),
  "4096 bytes of UTF-8 JSON": encoder.encode(JSON.stringify({ s: "é".repeat(2044) })),
  "4097 bytes of UTF-8": encoder.encode("é".repeat(2048) + "!"),
  "UTF-8 cut in the middle of a character": encoder.encode("ab€").subarray(0, 4).slice(),
};

describe("a fetched response carries the received fields and bytes exactly", () => {
  it("has the head's fields and no Content-Type the head did not have", () => {
    const response = parsedResponse(PLAIN_HEAD, encoder.encode("hello"));
    assert.deepEqual([...response.headers], [
      ["content-length", "5"],
      ["server", "nginx"],
      ["vary", "a, b"],
    ]);
    assert.equal(response.headers.get("content-type"), null);
    assert.equal(response.headers.has("content-type"), false);
    assert.equal(response.status, 200);
    assert.equal(response.statusText, "OK");
    const copy = response.clone();
    assert.equal(copy.status, 200);
    assert.equal(copy.statusText, "OK");
    assert.deepEqual([...copy.headers], [...response.headers]);
    // Other reason phrases and statuses are kept as well.
    const other = parsedResponse(PLAIN_HEAD.replace("200 OK", "200 Fine"), encoder.encode("hi"));
    assert.equal(other.statusText, "Fine");
    const empty = parsedResponse(PLAIN_HEAD.replace("200 OK", "200 "), encoder.encode("hi"));
    assert.equal(empty.statusText, "");
    const created = parsedResponse(PLAIN_HEAD.replace("200 OK", "201 OK"), encoder.encode("hi"));
    assert.equal(created.status, 201);
    assert.equal(created.statusText, "OK");
  });

  it("keeps the head's Content-Type as the only one", async () => {
    const head =
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-thing\r\nContent-Length: 2\r\n\r\n";
    const response = parsedResponse(head, encoder.encode("hi"));
    assert.deepEqual([...response.headers], [
      ["content-length", "2"],
      ["content-type", "application/x-thing"],
    ]);
    assert.equal((await response.blob()).type, "application/x-thing");
  });

  for (const [name, body] of Object.entries(BODIES)) {
    it(`reads back ${name} as a native Response with the same bytes would`, async () => {
      const copy = () => body.slice();
      const asBytes = new Uint8Array(await parsedResponse(PLAIN_HEAD, copy()).arrayBuffer());
      assert.deepEqual(asBytes, body);
      assert.equal(
        await parsedResponse(PLAIN_HEAD, copy()).text(),
        await new Response(copy()).text(),
      );
      const blob = await parsedResponse(PLAIN_HEAD, copy()).blob();
      assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), body);
      // The type a native Response with these fields gives (Bun's says text/plain for bytes).
      const nativeBlob = await new Response(copy(), { headers: [["server", "nginx"]] }).blob();
      assert.equal(blob.type, nativeBlob.type);
      let streamed = new Uint8Array(0);
      for await (const chunk of parsedResponse(PLAIN_HEAD, copy()).body!) {
        const joined = new Uint8Array(streamed.length + chunk.length);
        joined.set(streamed);
        joined.set(chunk, streamed.length);
        streamed = joined;
      }
      assert.deepEqual(streamed, body);
      const cloned = parsedResponse(PLAIN_HEAD, copy()).clone();
      assert.deepEqual(new Uint8Array(await cloned.arrayBuffer()), body);
    });
  }
});

describe("a fetched response returned from the runtime's own server is served as received", () => {
  // Deno.serve and Bun.serve read a returned Response's status, header list and body from the
  // runtime's internal slots, not through its getters: what wirefetch puts there must be whole.
  // Each fetched response is served beside a native Response built from the same fields and
  // bytes, and both must arrive alike (the servers add fields of their own, such as Date, and
  // Bun.serve a default Content-Type). Node has no server that takes a Response; there
  // node:http writes each response's parts.
  it("keeps status, fields and body bytes (Deno.serve, Bun.serve; node:http on Node)", async () => {
    const head = "HTTP/1.1 404 Not Found\r\nContent-Type: application/x-thing\r\nX-One: 1\r\n" +
      "Content-Length: 4\r\n\r\n";
    const cases: [string, Uint8Array<ArrayBuffer>][] = [
      [PLAIN_HEAD, encoder.encode("hello")],
      [head, new Uint8Array([0x63, 0x61, 0x66, 0xe9])],
      [head.replace("Content-Length: 4", "Content-Length: 65"), encoder.encode("c".repeat(65))],
      // UTF-8 whose string is shorter than its bytes: the length served must be the bytes'.
      [PLAIN_HEAD.replace("Content-Length: 5", "Content-Length: 14"), encoder.encode("café ✓ 😀")],
    ];
    const handler = (request: Request): Response => {
      const [h, b] = cases[Number(new URL(request.url).searchParams.get("case"))];
      const fetched = parsedResponse(h, b.slice());
      if (request.headers.get("x-native") === null) return fetched;
      return new Response(b.slice(), {
        status: fetched.status,
        statusText: fetched.statusText,
        headers: [...fetched.headers],
      });
    };
    const g = globalThis as {
      Deno?: {
        serve?: (
          options: unknown,
          handler: (request: Request) => Response,
        ) => { addr: { port: number }; shutdown(): Promise<void> };
      };
      Bun?: { serve?: (options: unknown) => { port: number; stop(force: boolean): void } };
    };
    let port: number;
    let stop: () => Promise<void>;
    if (g.Bun?.serve !== undefined) {
      const server = g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
      port = server.port;
      stop = () => Promise.resolve(server.stop(true));
    } else if (g.Deno?.serve !== undefined) {
      const server = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
      port = server.addr.port;
      stop = () => server.shutdown();
    } else {
      const http = await import("node:http");
      const server = http.createServer(async (req, res) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) headers.set(name, String(value));
        const response = handler(new Request(`http://127.0.0.1${req.url}`, { headers }));
        const bytes = new Uint8Array(await response.arrayBuffer());
        res.writeHead(response.status, response.statusText, [...response.headers].flat());
        res.end(bytes);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as { port: number }).port;
      stop = () => new Promise((resolve) => server.close(() => resolve()));
    }
    const received = async (i: number, native: boolean) => {
      const response = await withDeadline(
        fetch(`http://127.0.0.1:${port}/?case=${i}`, {
          headers: native ? { "x-native": "1" } : {},
        }),
      );
      const bytes = new Uint8Array(await withDeadline(response.arrayBuffer()));
      const fields = [...response.headers].filter(([name]) => name !== "date");
      return { status: response.status, fields, bytes };
    };
    try {
      for (let i = 0; i < cases.length; i++) {
        const fetched = await received(i, false);
        assert.deepEqual(fetched, await received(i, true));
        assert.equal(fetched.status, Number(cases[i][0].slice(9, 12)));
        assert.deepEqual(fetched.bytes, cases[i][1]);
      }
    } finally {
      await stop();
    }
  });
});

describe("responses whose head came from the parser's head cache", () => {
  it("each have all the fields, duplicates and Set-Cookie lines included, in their own Headers", async () => {
    const head = "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nVary: x\r\nVary: y\r\n" +
      "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n";
    const { parser, heads } = headCollector();
    const responses: Response[] = [];
    for (let i = 0; i < 3; i++) {
      parser.start(false);
      parser.execute(encoder.encode(head + "ok"));
      responses.push(
        makeResponse(heads[i], encoder.encode("ok"), "http://example.test/", false, null, true),
      );
    }
    // The parser shared one head between the three (its head cache).
    assert.equal(heads[1], heads[0]);
    assert.equal(heads[2], heads[0]);
    // What the runtime's own Headers shows for these fields (Bun lists Set-Cookie last).
    const native = new Headers();
    for (let i = 0; i < heads[0].headers.length; i += 2) {
      native.append(heads[0].headers[i], heads[0].headers[i + 1]);
    }
    for (const response of responses) {
      assert.deepEqual([...response.headers], [...native]);
      assert.deepEqual(
        [...response.headers].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
        [
          ["content-length", "2"],
          ["content-type", "text/plain"],
          ["set-cookie", "a=1"],
          ["set-cookie", "b=2"],
          ["vary", "x, y"],
        ],
      );
      assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
      assert.throws(() => response.headers.append("x-more", "1"), TypeError);
      assert.equal(await response.text(), "ok");
    }
    assert.notEqual(responses[0].headers, responses[1].headers);
  });
});

describe("a fetched response's reason phrase", () => {
  // The runtime reads its own Response's status and reason phrase from internal slots, not through
  // the getters: Deno's Cache API stores them (a fetched 200 OK put in a cache must come back
  // "OK", as native fetch's does), and the runtime's own clone copies them.
  it("is in the runtime's own Response, for a parsed head and one from the head cache", async () => {
    const { parser, heads } = headCollector();
    for (const head of [PLAIN_HEAD, PLAIN_HEAD, PLAIN_HEAD.replace("200 OK", "200 Fine")]) {
      parser.start(false);
      parser.execute(encoder.encode(head));
    }
    assert.equal(heads[1].shared, true, "the second head came from the head cache");
    for (
      const [head, reason] of [[heads[0], "OK"], [heads[1], "OK"], [heads[2], "Fine"]] as const
    ) {
      const response = () =>
        makeResponse(head, encoder.encode("hello"), "http://example.test/", false, null, false);
      assert.equal(response().statusText, reason);
      const nativeClone = Response.prototype.clone.call(response());
      assert.equal(nativeClone.statusText, reason);
      assert.equal(nativeClone.status, 200);
      const storage = (globalThis as { caches?: CacheStorage }).caches;
      if (storage !== undefined) {
        // Deno: the Cache API keeps what the runtime's Response holds.
        const name = `wirefetch-reason-${Math.random()}`;
        const cache = await withDeadline(storage.open(name));
        try {
          await withDeadline(cache.put("http://example.test/x", response()));
          const back = await withDeadline(cache.match("http://example.test/x"));
          assert.equal(back?.statusText, reason);
          assert.equal(await withDeadline(back!.text()), "hello");
        } finally {
          await withDeadline(storage.delete(name));
        }
      }
    }
  });
});

describe("a fetched response against a native Response with the same head and bytes", () => {
  // On Deno small bodies of valid UTF-8 go in as strings and the fields are pushed into the
  // runtime's own list (src/response.ts): every way of reading must still give what a native
  // Response built from the same fields and bytes gives.
  function native(head: string, body: Uint8Array<ArrayBuffer>): Response {
    const lines = head.split("\r\n").filter((line) => line !== "");
    const status = Number(lines[0].slice(9, 12));
    const headers = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return new Response(body.slice(), { status, statusText: lines[0].slice(13), headers });
  }

  async function everything(response: Response): Promise<unknown> {
    const [forBlob, forBytes, forForm, forStream] = [1, 2, 3, 4].map(() => response.clone());
    const blob = await withDeadline(forBlob.blob());
    let form: unknown;
    try {
      form = [...await withDeadline(forForm.formData())].map(([name, value]) => [
        name,
        typeof value === "string" ? value : `file ${value.size}`,
      ]);
    } catch (error) {
      form = `rejected ${(error as Error).name}`;
    }
    const streamed: number[] = [];
    for await (const chunk of forStream.body ?? []) streamed.push(...chunk);
    return {
      status: response.status,
      statusText: response.statusText,
      ok: response.ok,
      fields: [...response.headers],
      contentType: response.headers.get("content-type"),
      cookies: response.headers.getSetCookie(),
      blob: [blob.type, blob.size],
      bytes: [...new Uint8Array(await withDeadline(forBytes.arrayBuffer()))],
      form,
      streamed,
      text: await withDeadline(response.text()),
      used: response.bodyUsed,
    };
  }

  const cases: [string, string, Uint8Array<ArrayBuffer>][] = [
    [
      "a urlencoded form",
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n",
      encoder.encode("a=1&b=%C3%A9&c=d+e"),
    ],
    [
      "a multipart form",
      "HTTP/1.1 200 OK\r\nContent-Type: multipart/form-data; boundary=XX\r\n\r\n",
      encoder.encode('--XX\r\nContent-Disposition: form-data; name="f"\r\n\r\nvalué\r\n--XX--\r\n'),
    ],
    ["no Content-Type", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", encoder.encode("héllo")],
    [
      "JSON and two Set-Cookie lines",
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nSet-Cookie: a=1\r\n" +
      "Set-Cookie: b=2\r\nVary: x\r\nVary: y\r\n\r\n",
      encoder.encode('{"a":"é"}'),
    ],
    [
      "a charset other than UTF-8",
      "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n",
      encoder.encode("abc"),
    ],
    ["a NUL byte", "HTTP/1.1 200 OK\r\n\r\n", new Uint8Array([0x61, 0, 0x62])],
    [
      "noncharacters",
      "HTTP/1.1 200 OK\r\n\r\n",
      new Uint8Array([0xef, 0xbf, 0xbe, 0xef, 0xbf, 0xbf]),
    ],
    ["a surrogate's bytes", "HTTP/1.1 200 OK\r\n\r\n", new Uint8Array([0x61, 0xed, 0xa0, 0x80])],
    ["an overlong encoding", "HTTP/1.1 200 OK\r\n\r\n", new Uint8Array([0x61, 0xc0, 0xaf])],
    ["CR and LF", "HTTP/1.1 200 OK\r\n\r\n", encoder.encode("a\r\nb\rc\n")],
    ["empty, with a type", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", new Uint8Array(0)],
    ["4096 bytes of UTF-8", "HTTP/1.1 200 OK\r\n\r\n", encoder.encode("é".repeat(2048))],
    ["4097 bytes of UTF-8", "HTTP/1.1 200 OK\r\n\r\n", encoder.encode("é".repeat(2048) + "!")],
    ["65 ASCII bytes", "HTTP/1.1 200 OK\r\n\r\n", encoder.encode("b".repeat(65))],
  ];
  for (const [name, head, body] of cases) {
    it(`reads back ${name} alike, through clones, blob, formData, the stream and text`, async () => {
      assert.deepEqual(
        await everything(parsedResponse(head, body.slice())),
        await everything(native(head, body)),
      );
    });
  }
});
