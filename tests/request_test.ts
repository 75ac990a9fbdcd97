// Request normalization: what new Request would accept or refuse, without building one.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  flattenHeaders,
  normalizeMethod,
  type RequestSpec,
  toRequestSpec,
} from "../src/request.ts";

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
});
