import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chunkHeader, encodeChunk, LAST_CHUNK } from "../../src/h1/chunked.ts";
import { ResponseParser } from "../../src/h1/response_parser.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe("chunkHeader", () => {
  for (
    const [size, text] of [
      [1, "1\r\n"],
      [15, "f\r\n"],
      [16, "10\r\n"],
      [255, "ff\r\n"],
      [4096, "1000\r\n"],
      [65535, "ffff\r\n"],
      [2 ** 32, "100000000\r\n"],
      [Number.MAX_SAFE_INTEGER, "1fffffffffffff\r\n"],
    ] as const
  ) {
    it(`encodes ${size} as ${JSON.stringify(text)}`, () => {
      assert.equal(decoder.decode(chunkHeader(size)), text);
    });
  }

  for (const size of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    it(`rejects the size ${size}`, () => {
      assert.throws(() => chunkHeader(size), RangeError);
    });
  }
});

describe("encodeChunk", () => {
  it("frames data as size, CRLF, data, CRLF", () => {
    assert.equal(decoder.decode(encodeChunk(encoder.encode("hello"))), "5\r\nhello\r\n");
  });

  it("encodes sizes in hex", () => {
    const data = new Uint8Array(300).fill(0x61);
    const chunk = encodeChunk(data);
    assert.equal(decoder.decode(chunk.subarray(0, 5)), "12c\r\n");
    assert.equal(chunk.length, 5 + 300 + 2);
    assert.deepEqual(chunk.subarray(5, 305), data);
    assert.equal(decoder.decode(chunk.subarray(305)), "\r\n");
  });

  it("copies the data, so later changes to the input do not affect the chunk", () => {
    const data = encoder.encode("abc");
    const chunk = encodeChunk(data);
    data[0] = 0x7a;
    assert.equal(decoder.decode(chunk), "3\r\nabc\r\n");
  });

  it("produces no bytes for empty data, which would otherwise end the body", () => {
    assert.equal(encodeChunk(new Uint8Array(0)).length, 0);
  });
});

describe("LAST_CHUNK", () => {
  it("is the last chunk with an empty trailer section", () => {
    assert.equal(decoder.decode(LAST_CHUNK), "0\r\n\r\n");
  });
});

describe("chunked encoding round trip", () => {
  it("is decoded by the response parser to the original data", () => {
    const pieces = ["a", "b".repeat(17), "c".repeat(4097), "\r\n0\r\n"].map((s) =>
      encoder.encode(s)
    );
    const wire = [
      encoder.encode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
      ...pieces.map(encodeChunk),
      encodeChunk(new Uint8Array(0)),
      LAST_CHUNK,
    ];
    let body = "";
    const parser = new ResponseParser({
      onInformational() {},
      onHead() {},
      onBody(chunk) {
        body += decoder.decode(chunk);
      },
    }, 8192);
    parser.start(false);
    for (const bytes of wire) assert.equal(parser.execute(bytes), bytes.length);
    assert.equal(parser.complete, true);
    assert.equal(body, pieces.map((piece) => decoder.decode(piece)).join(""));
  });
});
