// The response parser's head cache: a keep-alive server answering the same request again sends
// the same head bytes, which the parser takes from its cache after a byte comparison. These
// tests prove a cached head is only reused for exactly the same bytes (one byte apart is a new
// parse), the same noBody, and within the size limit, and that it is shared read-only.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WirefetchError } from "../../src/errors.ts";
import { type ResponseHead, ResponseParser } from "../../src/h1/response_parser.ts";

const encoder = new TextEncoder();

/** A parser that records every head and body piece; `parse` runs one response through it. */
function recorder(maxHeaderSize = 8192) {
  const heads: ResponseHead[] = [];
  const informational: number[] = [];
  let body = "";
  const decoder = new TextDecoder();
  const parser = new ResponseParser({
    onInformational(status) {
      informational.push(status);
    },
    onHead(head) {
      heads.push(head);
    },
    onBody(chunk) {
      body += decoder.decode(chunk);
    },
  }, maxHeaderSize);
  return {
    heads,
    informational,
    /** Parses one response given as pieces; returns its head and body. */
    parse(pieces: string[], noBody = false, eof = false): { head: ResponseHead; body: string } {
      body = "";
      parser.start(noBody);
      for (const piece of pieces) parser.execute(encoder.encode(piece));
      // A close-delimited body ends with the connection.
      if (eof) parser.finish();
      assert.equal(parser.complete, true);
      return { head: heads[heads.length - 1], body };
    },
    parser,
  };
}

const HEAD = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 30 Nov 2026 06:00:00 GMT\r\n" +
  "Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n";

describe("ResponseParser head cache", () => {
  it("reuses the parsed head for identical head bytes, and parses the body after it", () => {
    const r = recorder();
    const first = r.parse([HEAD + "hello world\n"]);
    const second = r.parse([HEAD + "HELLO WORLD\n"]);
    assert.equal(second.head, first.head, "the second head comes from the cache");
    assert.equal(second.body, "HELLO WORLD\n");
    assert.deepEqual(second.head.headers, [
      "server",
      "nginx/1.22.1",
      "date",
      "Mon, 30 Nov 2026 06:00:00 GMT",
      "content-type",
      "text/plain",
      "content-length",
      "12",
      "connection",
      "keep-alive",
    ]);
    assert.equal(second.head.contentLength, 12);
    assert.equal(second.head.keepAlive, true);
  });

  it("parses anew when the head differs by one byte anywhere", () => {
    // Every position of the head, each byte changed to another valid one: never the cached head.
    for (let at = 0; at < HEAD.length - 2; at++) {
      const c = HEAD[at];
      // Keep the head well-formed: a letter or digit becomes another of its kind.
      let replacement: string | null = null;
      if (c >= "0" && c <= "8") replacement = String.fromCharCode(c.charCodeAt(0) + 1);
      else if (c >= "a" && c <= "y") replacement = String.fromCharCode(c.charCodeAt(0) + 1);
      else if (c >= "A" && c <= "Y" && at > 8) {
        replacement = String.fromCharCode(c.charCodeAt(0) + 1);
      }
      if (replacement === null) continue;
      const changed = HEAD.slice(0, at) + replacement + HEAD.slice(at + 1);
      const r = recorder();
      const first = r.parse([HEAD + "hello world\n"]);
      let second;
      try {
        second = r.parse([changed + "x".repeat(100)], false, true);
      } catch (error) {
        // The change made the head invalid (a status code below 100, say): a fresh parse said so.
        assert.ok(error instanceof WirefetchError, `at ${at}: ${error}`);
        continue;
      }
      assert.notEqual(second.head, first.head, `byte ${at} changed, cached head reused`);
      const fresh = recorder().parse([changed + "x".repeat(100)], false, true).head;
      assert.deepEqual(second.head, fresh, `byte ${at}`);
    }
  });

  it("parses a head that differs in some lines as a fresh parser would", () => {
    // On a miss the lines equal to the cached head's line at the same index keep their strings;
    // the others (and every line after an inserted or removed one) are parsed anew.
    const variants = [
      HEAD.replace("06:00:00", "06:00:01"),
      HEAD.replace("nginx/1.22.1", "nginx/1.22.10"),
      HEAD.replace("nginx/1.22.1", "nginx/1.2"),
      HEAD.replace("Server: ", "Server:   "),
      HEAD.replace("Server: nginx/1.22.1\r\n", ""),
      HEAD.replace("Server:", "X-Request-Id: 7f3a\r\nServer:"),
      HEAD.replace("200 OK", "200 Okay"),
      HEAD.replace("200 OK", "404 OK"),
      HEAD.replace("Content-Type: text/plain", "Content-Type: text/plaiN"),
      HEAD.replace("Content-Type: text/plain", "Content-type: text/plain"),
      HEAD.replace("Connection: keep-alive", "Connection: close\r\nVia: 1.1 proxy"),
    ];
    for (const variant of variants) {
      const r = recorder();
      r.parse([HEAD + "hello world\n"]);
      const { head } = r.parse([variant + "hello world\n"], false);
      const fresh = recorder().parse([variant + "hello world\n"]).head;
      assert.deepEqual(head, fresh, JSON.stringify(variant));
      // And the variant, now cached, serves the original's lines back as they were.
      const back = r.parse([HEAD + "hello world\n"]).head;
      assert.deepEqual(back, recorder().parse([HEAD + "hello world\n"]).head);
    }
  });

  it("takes lines shared with the cached head, obs-text included, as a fresh parse would", () => {
    // Enough differing strings after the shared lines for the parser to decode the head at once:
    // a shared line with bytes above 0x7F (here UTF-8 for "é", two bytes but one char if
    // decoded as UTF-8) must still rule that decode out, or the strings after it would shift.
    const latin1Head = (n: number) => {
      const text = "HTTP/1.1 200 OK\r\nServer: caf\xc3\xa9\r\nX-A: a" + n + "\r\nX-B: b" + n +
        "\r\nX-C: c" + n + "\r\nContent-Length: 0\r\n\r\n";
      return Uint8Array.from(text, (c) => c.charCodeAt(0));
    };
    const heads: ResponseHead[] = [];
    const parser = new ResponseParser({
      onInformational() {},
      onHead(head) {
        heads.push(head);
      },
      onBody() {},
    }, 8192);
    for (let n = 0; n < 3; n++) {
      parser.start(false);
      parser.execute(latin1Head(n));
      assert.equal(parser.complete, true);
    }
    assert.deepEqual(heads[2].headers, [
      "server",
      "caf\xc3\xa9",
      "x-a",
      "a2",
      "x-b",
      "b2",
      "x-c",
      "c2",
      "content-length",
      "0",
    ]);
  });

  it("does not reuse a head across a change of Content-Length by one digit", () => {
    const r = recorder();
    r.parse([HEAD + "hello world\n"]);
    const longer = HEAD.replace("Content-Length: 12", "Content-Length: 13");
    const { head, body } = r.parse([longer + "hello world!\n"]);
    assert.equal(head.contentLength, 13);
    assert.equal(body, "hello world!\n");
  });

  it("keys the cache on noBody: a HEAD response after a GET with the same head has no body", () => {
    const r = recorder();
    const get = r.parse([HEAD + "hello world\n"]);
    const head = r.parse([HEAD], true);
    assert.notEqual(head.head, get.head);
    assert.equal(head.head.framing, "none");
    assert.equal(head.body, "");
    // And back: the GET's framing again.
    const again = r.parse([HEAD + "hello world\n"]);
    assert.equal(again.head.framing, "length");
    assert.equal(again.body, "hello world\n");
  });

  it("parses a head that arrives in pieces after a cached one, and caches only whole heads", () => {
    const r = recorder();
    const first = r.parse([HEAD + "hello world\n"]);
    const split = r.parse([HEAD.slice(0, 40), HEAD.slice(40) + "hello world\n"]);
    assert.notEqual(split.head, first.head);
    assert.equal(split.head.shared, false);
    assert.deepEqual(split.head, { ...first.head, shared: false });
    assert.equal(split.body, "hello world\n");
    // A head shorter than the cached one in this chunk is a miss, not an out-of-bounds read.
    const short = "HTTP/1.1 204 No Content\r\n\r\n";
    assert.equal(r.parse([short]).head.status, 204);
  });

  it("still enforces maxHeaderSize when empty lines before a cached head use up the budget", () => {
    const r = recorder(HEAD.length + 2);
    r.parse([HEAD + "hello world\n"]);
    r.parse(["\r\n" + HEAD + "hello world\n"]);
    assert.throws(
      () => r.parse(["\r\n\r\n" + HEAD + "hello world\n"]),
      (error: unknown) => error instanceof WirefetchError && error.code === "ERR_HEADERS_TOO_LARGE",
    );
  });

  it("never caches a 1xx head, and finds the final head after one", () => {
    const r = recorder();
    const interim = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
    const first = r.parse([interim + HEAD + "hello world\n"]);
    const second = r.parse([interim + HEAD + "hello world\n"]);
    assert.deepEqual(r.informational, [103, 103]);
    assert.equal(second.head, first.head);
    assert.equal(second.head.status, 200);
  });

  it("shares the cached head read-only: the head is frozen, its field list the same array", () => {
    const r = recorder();
    const { head } = r.parse([HEAD + "hello world\n"]);
    assert.equal(head.shared, true);
    assert.ok(Object.isFrozen(head));
    assert.throws(() => {
      (head as { status: number }).status = 500;
    }, TypeError);
    const again = r.parse([HEAD + "hello world\n"]).head;
    assert.equal(again.headers, head.headers);
  });

  it("does not mix heads up across connections: each parser has its own cache", () => {
    const a = recorder();
    const b = recorder();
    const other = HEAD.replace("nginx/1.22.1", "nginx/1.22.2");
    a.parse([HEAD + "hello world\n"]);
    b.parse([other + "hello world\n"]);
    assert.equal(a.parse([HEAD + "hello world\n"]).head.headers[1], "nginx/1.22.1");
    assert.equal(b.parse([other + "hello world\n"]).head.headers[1], "nginx/1.22.2");
  });
});
