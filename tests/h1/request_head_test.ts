import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  encodeRequestHead,
  isToken,
  isValidFieldValue,
  RequestHeadCache,
} from "../../src/h1/request_head.ts";

function text(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += String.fromCharCode(byte);
  return out;
}

describe("encodeRequestHead", () => {
  it("encodes the request line, the fields as given and the empty line", () => {
    const head = encodeRequestHead("GET", "/path?q=1", [
      "host",
      "example.com:8080",
      "Accept",
      "*/*",
      "x-empty",
      "",
    ]);
    assert.equal(
      text(head),
      "GET /path?q=1 HTTP/1.1\r\nhost: example.com:8080\r\nAccept: */*\r\nx-empty: \r\n\r\n",
    );
  });

  it("encodes a head without fields", () => {
    assert.equal(text(encodeRequestHead("OPTIONS", "*", [])), "OPTIONS * HTTP/1.1\r\n\r\n");
  });

  it("keeps duplicate fields in order", () => {
    assert.equal(
      text(encodeRequestHead("POST", "/", ["a", "1", "b", "2", "a", "3"])),
      "POST / HTTP/1.1\r\na: 1\r\nb: 2\r\na: 3\r\n\r\n",
    );
  });

  it("sends chars 0x80-0xFF in values as single bytes, not UTF-8", () => {
    const head = encodeRequestHead("GET", "/", ["x-name", "caf\u00e9 \u00ff\u0080"]);
    const expected = "GET / HTTP/1.1\r\nx-name: caf\xe9 \xff\x80\r\n\r\n";
    assert.equal(head.length, expected.length);
    assert.equal(text(head), expected);
  });

  it("accepts HTAB and DEL in values, as only NUL, CR and LF are forbidden", () => {
    assert.equal(
      text(encodeRequestHead("GET", "/", ["x", "a\tb ~\u007f"])),
      "GET / HTTP/1.1\r\nx: a\tb ~\x7f\r\n\r\n",
    );
  });

  for (const method of ["", "GE T", "GET\r\n", "G\u00e9T", "GET/", "(GET)"]) {
    it(`rejects the method ${JSON.stringify(method)}`, () => {
      assert.throws(() => encodeRequestHead(method, "/", []), TypeError);
    });
  }

  for (
    const target of ["", "/a b", "/a\tb", "/a\r\nb", "/\x00", "/\x7f", "/caf\u00e9", "/\u2603"]
  ) {
    it(`rejects the target ${JSON.stringify(target)}`, () => {
      assert.throws(
        () => encodeRequestHead("GET", target, []),
        (error) => error instanceof TypeError && /request target/.test(error.message),
      );
    });
  }

  for (const name of ["", "x name", "x:name", "x\r\nname", "n\u00e9", "x\tname", "x(y)"]) {
    it(`rejects the header name ${JSON.stringify(name)}`, () => {
      assert.throws(
        () => encodeRequestHead("GET", "/", ["host", "h", name, "v"]),
        (error) => error instanceof TypeError && /header name/.test(error.message),
      );
    });
  }

  for (
    const [label, value] of [
      ["CR", "a\rb"],
      ["LF", "a\nb"],
      ["CRLF injection", "a\r\nx-injected: 1"],
      ["NUL", "a\x00b"],
      ["a char above 0xFF", "snow \u2603"],
      ["a lone surrogate", "\ud800"],
    ]
  ) {
    it(`rejects a header value with ${label}`, () => {
      assert.throws(
        () => encodeRequestHead("GET", "/", ["host", "h", "x-value", value]),
        (error) => error instanceof TypeError && /x-value/.test(error.message),
      );
    });
  }

  it("does not put the rejected value in the error message", () => {
    assert.throws(
      () => encodeRequestHead("GET", "/", ["authorization", "Bearer secret\r\n"]),
      (error) => error instanceof TypeError && !error.message.includes("secret"),
    );
  });

  it("rejects an odd-length header list", () => {
    assert.throws(() => encodeRequestHead("GET", "/", ["host"]), TypeError);
  });
});

describe("isToken", () => {
  it("accepts every tchar", () => {
    assert.equal(isToken("!#$%&'*+-.^_`|~09azAZ"), true);
    assert.equal(isToken("content-type"), true);
  });

  it("rejects empty strings, separators, controls and non-ASCII", () => {
    for (const name of ["", " ", "a b", "a:b", 'a"', "a,b", "a;b", "a/b", "a@b", "a\x00", "\x7f"]) {
      assert.equal(isToken(name), false, JSON.stringify(name));
    }
    for (const name of ["é", "a\u0100", "\u2603", "a{", "a}", "a[", "a]", "a=b", "a?b", "a\\b"]) {
      assert.equal(isToken(name), false, JSON.stringify(name));
    }
  });
});

describe("isValidFieldValue", () => {
  it("accepts printable, HTAB, obs-text and the empty string", () => {
    assert.equal(isValidFieldValue(""), true);
    assert.equal(isValidFieldValue("text/html; charset=utf-8"), true);
    assert.equal(isValidFieldValue("a\tb"), true);
    assert.equal(isValidFieldValue("\u00e9\u00ff"), true);
  });

  it("rejects NUL, CR, LF and chars above 0xFF", () => {
    for (const value of ["\x00", "a\r", "\nb", "\u0100", "\u2603"]) {
      assert.equal(isValidFieldValue(value), false, JSON.stringify(value));
    }
  });
});

describe("RequestHeadCache", () => {
  const head = (path: string): Uint8Array => encodeRequestHead("GET", path, ["host", "a"]);

  it("returns the stored entry for the same variant and URL only", () => {
    const cache = new RequestHeadCache();
    const a = head("/a");
    const entry = cache.set("ua1", "http://a/a", a, ["host", "a"]);
    assert.equal(cache.get("ua1", "http://a/a"), entry);
    assert.equal(cache.get("ua1", "http://a/a")!.head, a);
    assert.equal(cache.get("ua2", "http://a/a"), undefined);
    assert.equal(cache.get("ua1", "http://a/b"), undefined);
  });

  it("starts a full variant over instead of growing without bound", () => {
    const cache = new RequestHeadCache();
    for (let i = 0; i < 256; i++) cache.set("v", `http://a/${i}`, head(`/${i}`), []);
    assert.notEqual(cache.get("v", "http://a/0"), undefined);
    cache.set("v", "http://a/new", head("/new"), []);
    assert.equal(cache.get("v", "http://a/0"), undefined);
    assert.notEqual(cache.get("v", "http://a/new"), undefined);
  });
});
