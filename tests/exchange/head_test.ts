// Request heads are reused when the same head is sent again (cached GETs, and the last head
// with fields of the caller's): what goes on the wire must still be exactly each request's own.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { readRequest, type ReceivedRequest, startRawServer } from "../support/servers.ts";
import { closeBounded, withDeadline } from "../support/deadline.ts";

const OK = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/**
 * Sends each `[path, init]` in turn with one client to a raw server that answers every request
 * with OK (closing the connection after a `Connection: close` one), and checks each body reads
 * "ok". Returns what the server received, in order, and how many connections it accepted.
 */
async function sendInTurn(
  sends: readonly [path: string, init: RequestInit][],
): Promise<{ received: ReceivedRequest[]; accepted: number }> {
  const received: ReceivedRequest[] = [];
  const server = await startRawServer(async (socket) => {
    while (true) {
      let request: ReceivedRequest;
      try {
        request = await readRequest(socket);
      } catch {
        return; // the client closed the connection
      }
      received.push(request);
      socket.write(OK);
      if (request.headers["connection"] === "close") {
        socket.end();
        return;
      }
    }
  });
  const client = new Client();
  try {
    for (const [path, init] of sends) {
      const response = await withDeadline(client.fetch(`${server.url}${path}`, init));
      assert.equal(await withDeadline(response.text()), "ok");
    }
    return { received, accepted: server.accepted };
  } finally {
    await closeBounded(client, [server]);
  }
}

describe("request heads", () => {
  it("sends each request's own fields when the previous head had the same shape", async () => {
    const { received, accepted } = await sendInTurn([
      ["/a", { headers: { "X-Token": "aaaa" } }],
      ["/a", { headers: { "X-Token": "aaaa" } }],
      // Same length, another value.
      ["/a", { headers: { "X-Token": "bbbb" } }],
      // Same fields, another method (and a body of the same length as the next one's).
      ["/a", { method: "POST", headers: { "X-Token": "bbbb" }, body: "12" }],
      ["/a", { method: "POST", headers: { "X-Token": "bbbb" }, body: "34" }],
      // Same fields, another target.
      ["/b", { method: "POST", headers: { "X-Token": "bbbb" }, body: "34" }],
    ]);
    assert.deepEqual(
      received.map((
        r,
      ) => [r.method, r.target, r.headers["x-token"], new TextDecoder().decode(r.body)]),
      [
        ["GET", "/a", "aaaa", ""],
        ["GET", "/a", "aaaa", ""],
        ["GET", "/a", "bbbb", ""],
        ["POST", "/a", "bbbb", "12"],
        ["POST", "/a", "bbbb", "34"],
        ["POST", "/b", "bbbb", "34"],
      ],
    );
    // The caller's spelling of the name is what went out, every time.
    for (const request of received) assert.match(request.head, /\r\nX-Token: /);
    assert.equal(accepted, 1);
  });

  it("sends each request's own Host, Accept-Encoding and Connection for the same fields", async () => {
    // Lowercase names: no casing map, so only the Host override tells the third apart.
    const fields = { "x-token": "t" };
    // Each differs from the one before in one respect only.
    const { received } = await sendInTurn([
      ["/p", { headers: fields }],
      ["/p", { headers: { ...fields, host: "v.test" } }],
      ["/p", { headers: fields }],
      ["/p", { headers: fields, decompress: false } as RequestInit],
      ["/p", { headers: fields }],
      ["/p", { headers: fields, keepalive: false }],
      ["/p", { headers: fields }],
    ]);
    const seen = received.map((r) => [
      r.headers["host"] === "v.test" ? "v.test" : "default",
      r.headers["accept-encoding"] === undefined ? "none" : "coded",
      r.headers["connection"] ?? "",
      r.headers["x-token"],
    ]);
    // Every other request is the plain one, sent again after each change.
    const plain = ["default", "coded", "", "t"];
    assert.deepEqual(seen, [
      plain,
      ["v.test", "coded", "", "t"],
      plain,
      ["default", "none", "", "t"],
      plain,
      ["default", "coded", "close", "t"],
      plain,
    ]);
  });
});
