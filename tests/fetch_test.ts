// fetch semantics end to end: request encoding, bodies, responses, errors.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, fetch, WirefetchError } from "../mod.ts";
import { delay, readRequest, startHttpServer, startRawServer } from "./support/servers.ts";
import { closeBounded, rejectionWithin } from "./support/deadline.ts";

/** Runs `fn` with a client and closes it (and the servers) afterwards. */
async function withClient(
  fn: (client: Client) => Promise<void>,
  options: ConstructorParameters<typeof Client>[0] = {},
  servers: { close(): Promise<void> }[] = [],
): Promise<void> {
  const client = new Client(options);
  try {
    await fn(client);
  } finally {
    // A request left running (the test failed) would keep a graceful close() waiting.
    await closeBounded(client, servers);
  }
}

async function rejection(promise: Promise<unknown>): Promise<TypeError> {
  return await promise.then(
    () => assert.fail("expected a rejection"),
    (error) => error,
  );
}

describe("fetch requests", () => {
  it("sends the request line, Host, default headers and user headers", async () => {
    let seen: Awaited<ReturnType<typeof readRequest>> | null = null;
    const server = await startRawServer(async (socket) => {
      seen = await readRequest(socket);
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    });
    try {
      await withClient(async (client) => {
        const response = await client.fetch(`${server.url}/p/a?q=1#frag`, {
          headers: { "X-Custom": "  yes  " },
        });
        await response.arrayBuffer();
      });
      assert.ok(seen);
      const request = seen as Awaited<ReturnType<typeof readRequest>>;
      assert.equal(request.method, "GET");
      assert.equal(request.target, "/p/a?q=1");
      assert.equal(request.headers["host"], `127.0.0.1:${server.port}`);
      assert.equal(request.headers["x-custom"], "yes");
      assert.equal(request.headers["accept"], "*/*");
      assert.match(request.headers["user-agent"], /^wirefetch\//);
      assert.match(request.head, /^GET \/p\/a\?q=1 HTTP\/1\.1\r\n/);
    } finally {
      await server.close();
    }
  });

  it("sends each client's own User-Agent and target when repeated GETs reuse encoded heads", async () => {
    const seen: string[] = [];
    const server = await startHttpServer((req, res) => {
      seen.push(`${req.url} ${req.headers["user-agent"] ?? "(none)"}`);
      res.end("ok");
    });
    try {
      const a = new Client({ userAgent: "agent-a" });
      const b = new Client({ userAgent: null });
      try {
        for (const path of ["/one", "/two", "/one", "/two"]) {
          await (await a.fetch(`${server.url}${path}`)).arrayBuffer();
          await (await b.fetch(`${server.url}${path}`)).arrayBuffer();
        }
        // A header of the caller's is not in the cached head and must still be sent.
        await (await a.fetch(`${server.url}/one`, { headers: { "user-agent": "own" } }))
          .arrayBuffer();
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
      assert.deepEqual(seen, [
        "/one agent-a",
        "/one (none)",
        "/two agent-a",
        "/two (none)",
        "/one agent-a",
        "/one (none)",
        "/two agent-a",
        "/two (none)",
        "/one own",
      ]);
    } finally {
      await server.close();
    }
  });

  it("sends the absolute-form target through an HTTP proxy after a direct GET of the same URL", async () => {
    const targets: string[] = [];
    const origin = await startHttpServer((req, res) => {
      targets.push(`origin ${req.url}`);
      res.end("ok");
    });
    const proxy = await startRawServer(async (socket) => {
      const request = await readRequest(socket);
      targets.push(`proxy ${request.target}`);
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
    try {
      const direct = new Client();
      const proxied = new Client({ proxy: proxy.url });
      try {
        const url = `${origin.url}/same`;
        await (await direct.fetch(url)).arrayBuffer();
        await (await proxied.fetch(url)).arrayBuffer();
        await (await direct.fetch(url)).arrayBuffer();
      } finally {
        await Promise.all([direct.close(), proxied.close()]);
      }
      assert.deepEqual(targets, [
        "origin /same",
        `proxy ${origin.url}/same`,
        "origin /same",
      ]);
    } finally {
      await Promise.all([origin.close(), proxy.close()]);
    }
  });

  it("sends Accept-Encoding by each request's decompress setting when heads are reused", async () => {
    const seen: string[] = [];
    const server = await startHttpServer((req, res) => {
      seen.push(req.headers["accept-encoding"] === undefined ? "none" : "sent");
      res.end("ok");
    });
    try {
      const decoding = new Client();
      const raw = new Client({ decompress: false });
      try {
        for (let i = 0; i < 2; i++) {
          await (await decoding.fetch(`${server.url}/same`)).arrayBuffer();
          await (await raw.fetch(`${server.url}/same`)).arrayBuffer();
          await (await decoding.fetch(`${server.url}/same`, { decompress: false })).arrayBuffer();
        }
      } finally {
        await Promise.all([decoding.close(), raw.close()]);
      }
      assert.deepEqual(seen, ["sent", "none", "none", "sent", "none", "none"]);
    } finally {
      await server.close();
    }
  });

  for (
    const [name, body, type, expected] of [
      ["string", "héllo", "text/plain;charset=UTF-8", "héllo"],
      ["Uint8Array", new TextEncoder().encode("bytes"), undefined, "bytes"],
      ["ArrayBuffer", new TextEncoder().encode("buffer").buffer, undefined, "buffer"],
      ["DataView", new DataView(new TextEncoder().encode("view").buffer), undefined, "view"],
      ["Blob", new Blob(["blob"], { type: "text/x-blob" }), "text/x-blob", "blob"],
      [
        "URLSearchParams",
        new URLSearchParams({ a: "1", b: "two words" }),
        "application/x-www-form-urlencoded;charset=UTF-8",
        "a=1&b=two+words",
      ],
    ] as const
  ) {
    it(`sends a ${name} body with Content-Length and its default Content-Type`, async () => {
      const server = await startRawServer(async (socket) => {
        const request = await readRequest(socket);
        const reply = JSON.stringify({
          length: request.headers["content-length"] ?? null,
          te: request.headers["transfer-encoding"] ?? null,
          type: request.headers["content-type"] ?? null,
          body: new TextDecoder().decode(request.body),
        });
        socket.end(
          `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(reply)}\r\n\r\n${reply}`,
        );
      });
      try {
        await withClient(async (client) => {
          const response = await client.fetch(server.url, { method: "POST", body });
          const echo = await response.json();
          assert.equal(echo.body, expected);
          assert.equal(echo.length, String(new TextEncoder().encode(expected).length));
          assert.equal(echo.te, null);
          assert.equal(echo.type, type ?? null);
        });
      } finally {
        await server.close();
      }
    });
  }

  it("sends FormData as multipart/form-data with the runtime's boundary", async () => {
    const server = await startRawServer(async (socket) => {
      const request = await readRequest(socket);
      const text = new TextDecoder().decode(request.body);
      const reply = JSON.stringify({ type: request.headers["content-type"], text });
      socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(reply)}\r\n\r\n${reply}`);
    });
    try {
      await withClient(async (client) => {
        const form = new FormData();
        form.append("field", "value");
        const response = await client.fetch(server.url, { method: "POST", body: form });
        const echo = await response.json();
        const boundary = /^multipart\/form-data; ?boundary=(.+)$/.exec(echo.type)?.[1];
        assert.ok(boundary, echo.type);
        assert.ok(echo.text.includes(`--${boundary}`));
        assert.ok(echo.text.includes('name="field"'));
        assert.ok(echo.text.includes("value"));
      });
    } finally {
      await server.close();
    }
  });

  it("sends a ReadableStream body chunked, pulling only as the socket drains", async () => {
    let pulls = 0;
    const server = await startRawServer(async (socket) => {
      const request = await readRequest(socket);
      const reply = `${request.headers["transfer-encoding"]}:${request.body.length}`;
      socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${reply.length}\r\n\r\n${reply}`);
    });
    try {
      await withClient(async (client) => {
        const chunk = new Uint8Array(16 * 1024).fill(97);
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            pulls++;
            if (pulls > 64) controller.close();
            else controller.enqueue(chunk);
          },
        }, { highWaterMark: 0 });
        const response = await client.fetch(server.url, {
          method: "PUT",
          body: stream,
          // @ts-ignore: Node's RequestInit wants this for streams; harmless elsewhere.
          duplex: "half",
        });
        assert.equal(await response.text(), `chunked:${64 * 16 * 1024}`);
        assert.equal(pulls, 65);
      });
    } finally {
      await server.close();
    }
  });

  it("sends a Request object's method, headers and body", async () => {
    const server = await startRawServer(async (socket) => {
      const request = await readRequest(socket);
      const reply = JSON.stringify({
        method: request.method,
        x: request.headers["x-req"],
        length: request.headers["content-length"],
        body: new TextDecoder().decode(request.body),
      });
      socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(reply)}\r\n\r\n${reply}`);
    });
    try {
      await withClient(async (client) => {
        const request = new Request(server.url, {
          method: "PATCH",
          headers: { "x-req": "1" },
          body: "from a Request",
        });
        const echo = await (await client.fetch(request)).json();
        assert.deepEqual(echo, { method: "PATCH", x: "1", length: "14", body: "from a Request" });
      });
    } finally {
      await server.close();
    }
  });

  it("rejects CR, LF and NUL in header values with TypeError before writing a byte", async () => {
    let bytes = 0;
    const server = await startRawServer((socket) => {
      socket.on("data", (d: Uint8Array) => (bytes += d.length));
    });
    // The server never answers: a request that got through would wait for its head (300 s by
    // default), so each rejection is awaited with a bound, and so is the client's close.
    const client = new Client();
    const rejects = (init: RequestInit): Promise<unknown> =>
      rejectionWithin(client.fetch(server.url, init), 2_000, JSON.stringify(init));
    try {
      for (const value of ["a\r\nb", "a\nb", "a\0b"]) {
        const error = await rejects({ headers: [["x", value]] });
        assert.ok(error instanceof TypeError, String(error));
      }
      const badName = await rejects({ headers: [["bad name", "v"]] });
      assert.ok(badName instanceof TypeError);
      const badMethod = await rejects({ method: "GE T" });
      assert.ok(badMethod instanceof TypeError);
      await closeBounded(client, []);
      await delay(20);
      assert.equal(bytes, 0);
      assert.equal(server.accepted, 0);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it('rejects ftp: and about: URLs with a network error (TypeError "fetch failed")', async () => {
    await withClient(async (client) => {
      for (const url of ["ftp://example.test/", "about:blank", "foo:bar"]) {
        const error = await rejection(client.fetch(url));
        assert.ok(error instanceof TypeError);
        assert.equal(error.message, "fetch failed");
        assert.equal((error.cause as WirefetchError).code, "ERR_SCHEME");
      }
    });
  });

  it("rejects a GET with a body, as the Request constructor does", async () => {
    await withClient(async (client) => {
      const error = await rejection(client.fetch("http://127.0.0.1:9/", { body: "x" }));
      assert.ok(error instanceof TypeError);
    });
  });

  it("fails with ERR_CONNECTION_REFUSED as the cause of a TypeError", async () => {
    const server = await startRawServer(() => {});
    const port = server.port;
    await server.close();
    await withClient(async (client) => {
      const error = await rejection(client.fetch(`http://127.0.0.1:${port}/`));
      assert.ok(error instanceof TypeError);
      assert.ok(error.cause instanceof WirefetchError);
      assert.equal((error.cause as WirefetchError).code, "ERR_CONNECTION_REFUSED");
    });
  });

  it("uses the default client when none is given", async () => {
    const server = await startHttpServer((_req, res) => res.end("default"));
    try {
      const response = await fetch(server.url);
      assert.equal(await response.text(), "default");
    } finally {
      await server.close();
    }
  });

  it("fetch from a Client works unbound", async () => {
    const server = await startHttpServer((_req, res) => res.end("unbound"));
    try {
      await withClient(async (client) => {
        const { fetch: bound } = client;
        assert.equal(await (await bound(server.url)).text(), "unbound");
      });
    } finally {
      await server.close();
    }
  });
});

describe("fetch responses", () => {
  it("returns a global Response with status, statusText, headers and url", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.end(
        "HTTP/1.1 201 Created Here\r\nX-One: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n" +
          "content-length: 4\r\n\r\nbody",
      );
    });
    try {
      await withClient(async (client) => {
        const response = await client.fetch(`${server.url}/x#f`);
        assert.ok(response instanceof Response);
        assert.equal(response.status, 201);
        assert.equal(response.statusText, "Created Here");
        assert.equal(response.ok, true);
        assert.equal(response.headers.get("x-one"), "1");
        assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
        assert.equal(response.url, `${server.url}/x`); // Fetch: never the fragment
        assert.equal(response.redirected, false);
        assert.equal(await response.text(), "body");
      });
    } finally {
      await server.close();
    }
  });

  it("returns no body for HEAD even with a Content-Length, and reuses the connection", async () => {
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        const request = await readRequest(socket);
        socket.write(
          request.method === "HEAD"
            ? "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n"
            : "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        );
      }
    });
    try {
      await withClient(async (client) => {
        const head = await client.fetch(server.url, { method: "HEAD" });
        assert.equal(head.headers.get("content-length"), "100");
        assert.equal(head.body, null);
        assert.equal(await (await client.fetch(server.url)).text(), "ok");
        assert.equal(server.accepted, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("returns null bodies for 204 and 304", async () => {
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        const request = await readRequest(socket);
        socket.write(
          request.target === "/204"
            ? "HTTP/1.1 204 No Content\r\n\r\n"
            : "HTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n",
        );
      }
    });
    try {
      await withClient(async (client) => {
        const a = await client.fetch(`${server.url}/204`);
        assert.equal(a.status, 204);
        assert.equal(a.body, null);
        const b = await client.fetch(`${server.url}/304`);
        assert.equal(b.status, 304);
        assert.equal(server.accepted, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("skips 100 and 103 responses and returns the final one", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 100 Continue\r\n\r\n");
      socket.write("HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n");
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal");
    });
    try {
      await withClient(async (client) => {
        const response = await client.fetch(server.url);
        assert.equal(response.status, 200);
        assert.equal(await response.text(), "final");
      });
    } finally {
      await server.close();
    }
  });

  it("fails on 101 Switching Protocols with ERR_PROTOCOL", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.end("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n");
    });
    try {
      await withClient(async (client) => {
        const error = await rejection(client.fetch(server.url));
        assert.equal((error.cause as WirefetchError).code, "ERR_PROTOCOL");
      });
    } finally {
      await server.close();
    }
  });

  it("reads a chunked body with extensions and trailers, one byte per write", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      const text = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" +
        "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n";
      for (const byte of Buffer.from(text)) {
        socket.write(Buffer.from([byte]));
        await delay(0);
      }
    });
    try {
      await withClient(async (client) => {
        const response = await client.fetch(server.url);
        assert.equal(await response.text(), "hello world");
        assert.equal(client.stats().total.idle, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("reads a close-delimited body to EOF and does not reuse the connection", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 OK\r\n\r\npart one, ");
      await delay(10);
      socket.end("part two");
    });
    try {
      await withClient(async (client) => {
        const response = await client.fetch(server.url);
        assert.equal(await response.text(), "part one, part two");
        assert.equal(client.stats().total.open, 0);
      });
    } finally {
      await server.close();
    }
  });

  it("errors the body when the connection ends before Content-Length", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
      await delay(10);
      socket.end("only this");
    });
    try {
      await withClient(async (client) => {
        const response = await client.fetch(server.url);
        const error = await rejection(response.text());
        assert.ok(error instanceof TypeError);
        assert.equal((error.cause as WirefetchError).code, "ERR_BODY_TRUNCATED");
      });
    } finally {
      await server.close();
    }
  });

  it("errors the body when a chunked body is cut before its last chunk", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n");
      await delay(10);
      socket.end();
    });
    try {
      await withClient(async (client) => {
        const response = await client.fetch(server.url);
        const error = await rejection(response.arrayBuffer());
        assert.equal((error.cause as WirefetchError).code, "ERR_BODY_TRUNCATED");
      });
    } finally {
      await server.close();
    }
  });

  it("fails on conflicting Content-Length headers", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc");
    });
    try {
      await withClient(async (client) => {
        const error = await rejection(client.fetch(server.url));
        assert.equal((error.cause as WirefetchError).code, "ERR_PROTOCOL");
      });
    } finally {
      await server.close();
    }
  });

  it("reads Transfer-Encoding over Content-Length but never reuses that connection", async () => {
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        await readRequest(socket);
        socket.write(
          "HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n" +
            "2\r\nok\r\n0\r\n\r\n",
        );
      }
    });
    try {
      await withClient(async (client) => {
        assert.equal(await (await client.fetch(server.url)).text(), "ok");
        assert.equal(client.stats().total.open, 0);
        assert.equal(await (await client.fetch(server.url)).text(), "ok");
        assert.equal(server.accepted, 2);
      });
    } finally {
      await server.close();
    }
  });

  it("does not reuse after Connection: close or HTTP/1.0 without keep-alive", async () => {
    for (
      const reply of [
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
        "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
      ]
    ) {
      const server = await startRawServer(async (socket) => {
        while (!socket.destroyed) {
          await readRequest(socket);
          socket.write(reply);
        }
      });
      try {
        await withClient(async (client) => {
          await (await client.fetch(server.url)).text();
          await (await client.fetch(server.url)).text();
          assert.equal(server.accepted, 2, reply);
        });
      } finally {
        await server.close();
      }
    }
  });

  it("reuses an HTTP/1.0 connection with Connection: keep-alive", async () => {
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        await readRequest(socket);
        socket.write("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok");
      }
    });
    try {
      await withClient(async (client) => {
        await (await client.fetch(server.url)).text();
        await (await client.fetch(server.url)).text();
        assert.equal(server.accepted, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("fails with ERR_HEADERS_TOO_LARGE above maxHeaderSize", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.end(`HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(2000)}\r\ncontent-length: 0\r\n\r\n`);
    });
    try {
      await withClient(async (client) => {
        const error = await rejection(client.fetch(server.url));
        assert.equal((error.cause as WirefetchError).code, "ERR_HEADERS_TOO_LARGE");
      }, { maxHeaderSize: 1024 });
    } finally {
      await server.close();
    }
  });

  it("fails with ERR_HEADERS_TIMEOUT when the head does not come", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
    });
    try {
      await withClient(
        async (client) => {
          // Raced: with the timer never armed, the rejection would never come.
          const error = await rejectionWithin(
            client.fetch(server.url),
            5_000,
            "fetch",
          ) as TypeError;
          assert.ok(error instanceof TypeError, String(error));
          assert.equal((error.cause as WirefetchError).code, "ERR_HEADERS_TIMEOUT");
          assert.equal(client.stats().total.open, 0);
        },
        { headersTimeout: 60 },
        [server],
      );
    } finally {
      await server.close();
    }
  });

  it("errors the body with ERR_BODY_TIMEOUT when data stops while reading", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
    });
    try {
      await withClient(async (client) => {
        const response = await client.fetch(server.url);
        const error = await rejection(response.text());
        assert.equal((error.cause as WirefetchError).code, "ERR_BODY_TIMEOUT");
      }, { bodyTimeout: 60 });
    } finally {
      await server.close();
    }
  });
});

describe("content coding", () => {
  it("decodes gzip and deflate bodies, small and streamed, as fetch does", async () => {
    const { gzipSync, deflateSync } = await import("node:zlib");
    const big = "wirefetch ".repeat(200_000);
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        const request = await readRequest(socket);
        const [coding, text] = request.target === "/deflate"
          ? ["deflate", "small deflate"]
          : request.target === "/big"
          ? ["gzip", big]
          : ["gzip", "small gzip"];
        const bytes = coding === "gzip" ? gzipSync(text) : deflateSync(text);
        socket.write(
          `HTTP/1.1 200 OK\r\ncontent-encoding: ${coding}\r\ncontent-length: ${bytes.length}\r\n\r\n`,
        );
        socket.write(bytes);
      }
    });
    try {
      await withClient(async (client) => {
        assert.equal(await (await client.fetch(`${server.url}/gzip`)).text(), "small gzip");
        assert.equal(await (await client.fetch(`${server.url}/deflate`)).text(), "small deflate");
        const response = await client.fetch(`${server.url}/big`);
        assert.equal(response.headers.get("content-encoding"), "gzip");
        assert.equal(await response.text(), big);
        assert.equal(client.stats().total.idle, 1);
        assert.equal(server.accepted, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("errors the body of a corrupt gzip stream and leaves other codings undecoded", async () => {
    const server = await startRawServer(async (socket) => {
      while (!socket.destroyed) {
        const request = await readRequest(socket);
        socket.write(
          request.target === "/br"
            ? "HTTP/1.1 200 OK\r\ncontent-encoding: x-custom\r\ncontent-length: 3\r\n\r\nabc"
            : "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 9\r\n\r\nnot gzip!",
        );
      }
    });
    try {
      await withClient(async (client) => {
        const corrupt = await client.fetch(`${server.url}/bad`);
        await assert.rejects(corrupt.text());
        const br = await client.fetch(`${server.url}/br`);
        assert.equal(await br.text(), "abc");
      });
    } finally {
      await server.close();
    }
  });
});

describe("addresses", () => {
  it("fetches from an IPv6 literal with a bracketed Host header", async () => {
    let host = "";
    const server = await startRawServer(async (socket) => {
      const request = await readRequest(socket);
      host = request.headers.host;
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nv6");
    }, { host: "::1" });
    try {
      await withClient(async (client) => {
        const response = await client.fetch(`http://[::1]:${server.port}/`);
        assert.equal(await response.text(), "v6");
        assert.equal(host, `[::1]:${server.port}`);
      });
    } finally {
      await server.close();
    }
  });
});
