import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WirefetchError } from "../../src/errors.ts";
import { decideFraming, type FramingDecision, parseContentLength } from "../../src/h1/framing.ts";

function protocolError(error: unknown): boolean {
  return error instanceof WirefetchError && error.code === "ERR_PROTOCOL";
}

function decide(
  headers: string[],
  { minor = 1, status = 200, noBody = false } = {},
): FramingDecision {
  return decideFraming(minor, status, noBody, headers);
}

describe("decideFraming body framing", () => {
  it("uses Content-Length", () => {
    assert.deepEqual(decide(["content-length", "42"]), {
      framing: "length",
      contentLength: 42,
      keepAlive: true,
      keepAliveTimeoutMs: -1,
      keepAliveMax: -1,
    });
  });

  it("uses Content-Length 0 as an empty length-delimited body", () => {
    const decision = decide(["content-length", "0"]);
    assert.equal(decision.framing, "length");
    assert.equal(decision.contentLength, 0);
  });

  it("uses chunked when it is the final transfer-coding", () => {
    const decision = decide(["transfer-encoding", "chunked"]);
    assert.equal(decision.framing, "chunked");
    assert.equal(decision.contentLength, -1);
    assert.equal(decision.keepAlive, true);
  });

  it("matches transfer-codings case-insensitively and ignores empty list elements", () => {
    assert.equal(decide(["transfer-encoding", " , Chunked ,"]).framing, "chunked");
    assert.equal(decide(["transfer-encoding", "identity, CHUNKED"]).framing, "chunked");
  });

  it("reads the codings of all Transfer-Encoding fields in order", () => {
    assert.equal(
      decide(["transfer-encoding", "identity", "transfer-encoding", "chunked"]).framing,
      "chunked",
    );
  });

  it("delimits the body by close without Content-Length or Transfer-Encoding", () => {
    const decision = decide([]);
    assert.equal(decision.framing, "close");
    assert.equal(decision.keepAlive, false);
  });

  it("delimits the body by close for Transfer-Encoding without chunked", () => {
    const decision = decide(["transfer-encoding", "identity", "content-length", "3"]);
    assert.equal(decision.framing, "close");
    assert.equal(decision.keepAlive, false);
  });

  for (const status of [100, 103, 204, 304]) {
    it(`gives status ${status} no body`, () => {
      const decision = decide(["content-length", "10", "transfer-encoding", "chunked"], {
        status,
      });
      assert.equal(decision.framing, "none");
      assert.equal(decision.contentLength, -1);
    });
  }

  it("gives a response to HEAD no body, keeping persistence", () => {
    const decision = decide(["content-length", "10"], { noBody: true });
    assert.equal(decision.framing, "none");
    assert.equal(decision.contentLength, -1);
    assert.equal(decision.keepAlive, true);
  });

  it("accepts any Transfer-Encoding on a response to HEAD", () => {
    assert.equal(decide(["transfer-encoding", "gzip, chunked"], { noBody: true }).framing, "none");
  });

  it("still rejects an invalid Content-Length on a response to HEAD", () => {
    assert.throws(() => decide(["content-length", "x"], { noBody: true }), protocolError);
  });

  it("does not reuse an HTTP/1.0 connection whose bodiless response has Transfer-Encoding", () => {
    const decision = decide(["connection", "keep-alive", "transfer-encoding", "chunked"], {
      minor: 0,
      status: 304,
    });
    assert.equal(decision.keepAlive, false);
  });

  it("fills the given object in place", () => {
    const out: FramingDecision = {
      framing: "none",
      contentLength: -1,
      keepAlive: false,
      keepAliveTimeoutMs: -1,
      keepAliveMax: -1,
    };
    assert.equal(decideFraming(1, 200, false, ["content-length", "7"], out), out);
    assert.equal(out.framing, "length");
    assert.equal(out.contentLength, 7);
    assert.equal(out.keepAlive, true);
  });
});

describe("decideFraming Transfer-Encoding with Content-Length", () => {
  it("lets Transfer-Encoding win and never reuses the connection", () => {
    const decision = decide(["content-length", "5", "transfer-encoding", "chunked"]);
    assert.equal(decision.framing, "chunked");
    assert.equal(decision.contentLength, -1);
    assert.equal(decision.keepAlive, false);
  });

  it("does not reuse the connection even for a bodiless response", () => {
    const decision = decide(["content-length", "5", "transfer-encoding", "chunked"], {
      noBody: true,
    });
    assert.equal(decision.keepAlive, false);
  });
});

describe("decideFraming rejections", () => {
  it("rejects Transfer-Encoding in an HTTP/1.0 response", () => {
    assert.throws(() => decide(["transfer-encoding", "chunked"], { minor: 0 }), protocolError);
    assert.throws(
      () => decide(["transfer-encoding", "chunked", "content-length", "3"], { minor: 0 }),
      protocolError,
    );
  });

  for (const value of ["gzip", "deflate", "chunked, identity", "chunked, gzip", "chunkd", "br"]) {
    it(`reads the body until close when the final coding is ${JSON.stringify(value)}`, () => {
      const decision = decide(["transfer-encoding", value]);
      assert.equal(decision.framing, "close");
      assert.equal(decision.keepAlive, false);
    });
  }

  for (const value of ["gzip, chunked", "compress, chunked"]) {
    it(`rejects the unsupported transfer-coding ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => decide(["transfer-encoding", value]),
        (error) => protocolError(error) && /unsupported transfer-coding/.test(String(error)),
      );
    });
  }

  it("rejects chunked applied twice", () => {
    assert.throws(() => decide(["transfer-encoding", "chunked, chunked"]), protocolError);
    assert.throws(
      () => decide(["transfer-encoding", "chunked", "transfer-encoding", "Chunked"]),
      protocolError,
    );
  });

  it("rejects an empty Transfer-Encoding", () => {
    assert.throws(() => decide(["transfer-encoding", ""]), protocolError);
    assert.throws(() => decide(["transfer-encoding", " , "]), protocolError);
  });

  it("rejects transfer-coding parameters without a coding", () => {
    assert.throws(() => decide(["transfer-encoding", ";q=1, chunked"]), protocolError);
  });

  it("rejects conflicting Content-Length fields", () => {
    assert.throws(
      () => decide(["content-length", "5", "content-length", "6"]),
      (error) => protocolError(error) && /conflicting Content-Length/.test(String(error)),
    );
  });
});

describe("parseContentLength", () => {
  it("parses digits", () => {
    assert.equal(parseContentLength("0", -1), 0);
    assert.equal(parseContentLength("123456", -1), 123456);
    assert.equal(parseContentLength("007", -1), 7);
    assert.equal(parseContentLength("9007199254740991", -1), Number.MAX_SAFE_INTEGER);
  });

  it("accepts a list of identical values and a matching earlier value", () => {
    assert.equal(parseContentLength("5, 5,5", -1), 5);
    assert.equal(parseContentLength("5", 5), 5);
  });

  it("rejects a value different from an earlier one", () => {
    assert.throws(() => parseContentLength("5", 6), protocolError);
    assert.throws(() => parseContentLength("5, 6", -1), protocolError);
  });

  for (const value of ["", " ", "-5", "+5", "5 5", "5a", "0x5", "5,", ",5", "1e3", "5.0"]) {
    it(`rejects ${JSON.stringify(value)}`, () => {
      assert.throws(() => parseContentLength(value, -1), protocolError);
    });
  }

  it("rejects values above 2^53-1", () => {
    assert.throws(() => parseContentLength("9007199254740992", -1), protocolError);
    assert.throws(() => parseContentLength("1".repeat(400), -1), protocolError);
  });
});

describe("decideFraming persistence", () => {
  it("persists HTTP/1.1 unless Connection has close", () => {
    assert.equal(decide(["content-length", "0"]).keepAlive, true);
    assert.equal(decide(["connection", "close", "content-length", "0"]).keepAlive, false);
    assert.equal(decide(["connection", "Upgrade, CLOSE", "content-length", "0"]).keepAlive, false);
    assert.equal(decide(["connection", "closed", "content-length", "0"]).keepAlive, true);
  });

  it("persists HTTP/1.0 only with keep-alive", () => {
    assert.equal(decide(["content-length", "0"], { minor: 0 }).keepAlive, false);
    assert.equal(
      decide(["connection", "Keep-Alive", "content-length", "0"], { minor: 0 }).keepAlive,
      true,
    );
    assert.equal(
      decide(["connection", "keep-alive", "connection", "close", "content-length", "0"], {
        minor: 0,
      }).keepAlive,
      false,
    );
  });

  it("parses Keep-Alive timeout (in ms) and max", () => {
    const decision = decide(["keep-alive", "timeout=5, max=100", "content-length", "0"]);
    assert.equal(decision.keepAliveTimeoutMs, 5000);
    assert.equal(decision.keepAliveMax, 100);
  });

  it("parses Keep-Alive params case-insensitively with spaces and quotes", () => {
    const decision = decide(["keep-alive", ' Max = "3" , TIMEOUT=0', "content-length", "0"]);
    assert.equal(decision.keepAliveTimeoutMs, 0);
    assert.equal(decision.keepAliveMax, 3);
  });

  it("lets a later Keep-Alive field override an earlier one", () => {
    const decision = decide(["keep-alive", "timeout=5", "keep-alive", "timeout=9"]);
    assert.equal(decision.keepAliveTimeoutMs, 9000);
    assert.equal(decision.keepAliveMax, -1);
  });

  for (const value of ["timeout=", "timeout=-1", "timeout=1.5", "timeout", "timeout=9e99"]) {
    it(`reports -1 for Keep-Alive ${JSON.stringify(value)}`, () => {
      assert.equal(decide(["keep-alive", value]).keepAliveTimeoutMs, -1);
    });
  }

  it("reports -1 for a timeout too large to express in ms", () => {
    assert.equal(decide(["keep-alive", "timeout=9007199254740991"]).keepAliveTimeoutMs, -1);
  });
});
