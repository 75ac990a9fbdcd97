// The parser's head cache end to end: a keep-alive server that answers with the same head bytes
// again, for requests whose framing differs (HEAD and GET, RFC 9110 §9.3.2), and heads that
// differ from the cached one only in what decides framing or reuse (Content-Length,
// Transfer-Encoding, Connection: close, the status). Each response must be framed by its own
// bytes and request, and a connection the last response closed must not be reused.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { readRequest, startRawServer } from "../support/servers.ts";
import { closeBounded, withDeadline } from "../support/deadline.ts";

const HEAD = "HTTP/1.1 200 OK\r\nServer: test\r\nContent-Type: text/plain\r\n";

describe("head cache, end to end", () => {
  it("frames a HEAD response after a GET with the same head bytes as bodiless, and back", async () => {
    const server = await startRawServer(async (socket) => {
      for (;;) {
        const request = await readRequest(socket);
        const head = `${HEAD}Content-Length: 5\r\n\r\n`;
        // The same head for both methods; only GET gets the body (RFC 9110 §9.3.2).
        socket.write(request.method === "HEAD" ? head : head + request.target.slice(1, 6));
      }
    });
    const client = new Client();
    try {
      for (
        const [method, path] of [
          ["GET", "/aaaaa"],
          ["HEAD", "/"],
          ["GET", "/bbbbb"],
          ["HEAD", "/"],
          ["HEAD", "/"],
          ["GET", "/ccccc"],
        ]
      ) {
        const response = await withDeadline(client.fetch(server.url + path, { method }));
        assert.equal(response.headers.get("content-length"), "5");
        assert.equal(await withDeadline(response.text()), method === "HEAD" ? "" : path.slice(1));
      }
      assert.equal(server.accepted, 1, "one connection for all");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("takes framing and reuse from each response's own bytes when they differ from the cached head", async () => {
    const responses = [
      `${HEAD}Content-Length: 5\r\n\r\nfirst`,
      `${HEAD}Content-Length: 5\r\n\r\nagain`,
      `${HEAD}Content-Length: 6\r\n\r\nsecond`,
      `${HEAD}Transfer-Encoding: chunked\r\n\r\n5\r\nthird\r\n0\r\n\r\n`,
      `${HEAD}Content-Length: 5\r\n\r\nfifth`,
      `${HEAD.replace("200 OK", "204 OK")}Content-Length: 5\r\n\r\n`,
      `${HEAD}Content-Length: 5\r\n\r\nsixth`,
      `${HEAD}Content-Length: 5\r\nConnection: close\r\n\r\nclose`,
    ];
    const server = await startRawServer(async (socket, index) => {
      if (index > 0) {
        await readRequest(socket);
        socket.end(`${HEAD}Content-Length: 5\r\n\r\nfresh`);
        return;
      }
      for (const response of responses) {
        await readRequest(socket);
        socket.write(response);
      }
    });
    const client = new Client();
    try {
      const texts: string[] = [];
      for (let i = 0; i < responses.length; i++) {
        texts.push(
          await withDeadline(withDeadline(client.fetch(server.url)).then((r) => r.text())),
        );
      }
      assert.deepEqual(texts, ["first", "again", "second", "third", "fifth", "", "sixth", "close"]);
      assert.equal(server.accepted, 1);
      // The last response said Connection: close: the next request needs a new connection.
      assert.equal(
        await withDeadline(withDeadline(client.fetch(server.url)).then((r) => r.text())),
        "fresh",
      );
      assert.equal(server.accepted, 2);
    } finally {
      await closeBounded(client, [server]);
    }
  });
});
