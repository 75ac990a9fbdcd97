// Subresource Integrity: the body must match the strongest listed digest, or the fetch is a
// network error.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Client, type WirefetchError } from "../../mod.ts";
import { matchesIntegrity } from "../../src/fetch/integrity.ts";
import { startHttpServer } from "../support/servers.ts";
import { rejection, within } from "./helpers.ts";
import { closeBounded } from "../support/deadline.ts";

const body = "alert('Hello, world.');";

function digest(algorithm: string, data: string, url = false): string {
  const b64 = createHash(algorithm).update(data).digest("base64");
  return url ? b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") : b64;
}

describe("integrity", () => {
  it("resolves when the body matches, with the whole body readable", async () => {
    const big = "b".repeat(600 * 1024); // streamed, not received with the head
    const server = await startHttpServer((req, res) => {
      res.setHeader("x-kind", "test");
      res.end(req.url === "/big" ? big : body);
    });
    const client = new Client();
    try {
      for (
        const integrity of [
          `sha256-${digest("sha256", body)}`,
          `sha384-${digest("sha384", body)}`,
          `sha512-${digest("sha512", body, true)}`, // base64url
          `sha256-${digest("sha256", body)}?some-option`,
        ]
      ) {
        const response = await within(client.fetch(server.url, { integrity }), 5_000, integrity);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("x-kind"), "test");
        assert.equal(response.type, "basic");
        assert.equal(await within(response.text(), 5_000, "the body"), body);
      }
      const streamed = await within(
        client.fetch(`${server.url}/big`, { integrity: `sha256-${digest("sha256", big)}` }),
        5_000,
        "big",
      );
      assert.equal((await within(streamed.text(), 5_000, "the body")).length, big.length);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it('is a network error on a mismatch (TypeError "fetch failed", ERR_INTEGRITY)', async () => {
    const server = await startHttpServer((_req, res) => res.end(body));
    const client = new Client();
    try {
      const error = await rejection(
        client.fetch(server.url, { integrity: `sha256-${digest("sha256", "other")}` }),
      );
      assert.ok(error instanceof TypeError);
      assert.equal(error.message, "fetch failed");
      assert.equal((error.cause as WirefetchError).code, "ERR_INTEGRITY");
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("uses only the strongest algorithm listed; any of its digests may match", async () => {
    const bytes = new TextEncoder().encode(body);
    const good256 = `sha256-${digest("sha256", body)}`;
    const bad512 = `sha512-${digest("sha512", "other")}`;
    const good512 = `sha512-${digest("sha512", body)}`;
    // A matching sha256 does not help when a sha512 is listed and does not match.
    assert.equal(await matchesIntegrity(bytes, `${good256} ${bad512}`), false);
    assert.equal(await matchesIntegrity(bytes, `${good256} ${bad512} ${good512}`), true);
    assert.equal(
      await matchesIntegrity(bytes, `${good256}\t${bad512.replace("512", "384")}`),
      false,
    );
    // Unknown algorithms are ignored; metadata with none known matches (SRI §3.3.5).
    assert.equal(await matchesIntegrity(bytes, "md5-abc"), true);
    assert.equal(await matchesIntegrity(bytes, `md5-abc ${good256}`), true);
    assert.equal(await matchesIntegrity(bytes, "sha256-AAAA"), false);
  });
});
