// RFC 9112 framing edge cases end to end, against scripted raw TCP servers.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { delay, readRequest, startRawServer } from "../support/servers.ts";
import { closeBounded, withDeadline } from "../support/deadline.ts";

describe("Transfer-Encoding without a final chunked (RFC 9112 §6.3 rule 4)", () => {
  for (const coding of ["gzip", "chunkd", "chunked, identity"]) {
    it(`reads ${JSON.stringify(coding)} until the server closes, never reusing the connection`, async () => {
      const server = await startRawServer(async (socket) => {
        await readRequest(socket);
        socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n\r\n5\r\nhello`);
        await delay(20);
        socket.end(" world\r\n0\r\n\r\n");
      });
      const client = new Client();
      try {
        const response = await withDeadline(client.fetch(server.url));
        assert.equal(await withDeadline(response.text()), "5\r\nhello world\r\n0\r\n\r\n");
        assert.equal(client.stats().total.open, 0);
        const again = await withDeadline(client.fetch(server.url));
        await again.text();
        assert.equal(server.accepted, 2);
      } finally {
        await closeBounded(client, [server]);
      }
    });
  }
});

describe("empty lines before a status line (RFC 9112 §2.2)", () => {
  it("skips them, also between a 1xx and the final response, and keeps the connection", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\none");
      await readRequest(socket);
      socket.write("HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n");
      await delay(10);
      socket.write("\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\ntwo");
    });
    const client = new Client();
    try {
      assert.equal(await (await withDeadline(client.fetch(server.url))).text(), "one");
      assert.equal(await (await withDeadline(client.fetch(server.url))).text(), "two");
      assert.equal(server.accepted, 1);
    } finally {
      await closeBounded(client, [server]);
    }
  });
});

describe("many tiny chunks", () => {
  it("reach the body stream as one piece per socket read, not one per chunk", async () => {
    const chunks = 100_000;
    const server = await startRawServer(async (socket) => {
      await readRequest(socket);
      socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
      socket.end("1\r\nx\r\n".repeat(chunks) + "0\r\n\r\n");
    });
    const client = new Client();
    try {
      const response = await withDeadline(client.fetch(server.url));
      const reader = response.body!.getReader();
      let pieces = 0;
      let bytes = 0;
      for (;;) {
        const { done, value } = await withDeadline(reader.read());
        if (done) break;
        pieces++;
        bytes += value.length;
      }
      assert.equal(bytes, chunks);
      // 600 KB on the wire arrive in a few dozen reads; one piece per HTTP chunk would be 100k.
      assert.ok(pieces < chunks / 100, `${pieces} pieces`);
    } finally {
      await closeBounded(client, [server]);
    }
  });
});
