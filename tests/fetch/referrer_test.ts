// Referrer Policy's algorithms on their own (W3C Referrer Policy §8), and the header rules.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  determineReferrer,
  isPotentiallyTrustworthy,
  parseReferrer,
  policyFromHeader,
} from "../../src/fetch/referrer.ts";
import { Client } from "../../mod.ts";
import { startHttpServer } from "../support/servers.ts";
import { fetchText, runtime, within } from "./helpers.ts";
import { closeBounded } from "../support/deadline.ts";

const page = new URL("https://user:pw@a.example/page?q=1#frag");
const same = new URL("https://a.example/other");
const cross = new URL("https://b.example/");
const downgrade = new URL("http://b.example/");

function ref(policy: ReferrerPolicy, current: URL): string {
  return String(determineReferrer(page, policy, current));
}

describe("determine request's referrer", () => {
  it("strips credentials and fragment, and applies each policy", () => {
    const full = "https://a.example/page?q=1";
    const origin = "https://a.example/";
    const table: [ReferrerPolicy, string, string, string][] = [
      // policy, same origin, cross origin, https → http
      ["", full, origin, "no-referrer"],
      ["strict-origin-when-cross-origin", full, origin, "no-referrer"],
      ["no-referrer", "no-referrer", "no-referrer", "no-referrer"],
      ["no-referrer-when-downgrade", full, full, "no-referrer"],
      ["same-origin", full, "no-referrer", "no-referrer"],
      ["origin", origin, origin, origin],
      ["strict-origin", origin, origin, "no-referrer"],
      ["origin-when-cross-origin", full, origin, origin],
      ["unsafe-url", full, full, full],
    ];
    for (const [policy, s, c, d] of table) {
      assert.deepEqual(
        [ref(policy, same), ref(policy, cross), ref(policy, downgrade)],
        [s, c, d],
        policy,
      );
    }
  });

  it("reduces a referrer longer than 4096 bytes to its origin", () => {
    const long = new URL(`https://a.example/${"x".repeat(5000)}`);
    assert.equal(String(determineReferrer(long, "unsafe-url", cross)), "https://a.example/");
  });

  it('sends none for local schemes and without an environment for "client"', () => {
    assert.equal(determineReferrer(new URL("data:,x"), "unsafe-url", cross), "no-referrer");
    assert.equal(determineReferrer("client", "unsafe-url", cross), "no-referrer");
  });

  it("treats loopback, localhost, https and file as potentially trustworthy", () => {
    for (
      const url of [
        "http://127.0.0.1/",
        "http://localhost:8/",
        "http://a.localhost/",
        "http://[::1]/",
        "https://x/",
        "file:///x",
      ]
    ) {
      assert.equal(isPotentiallyTrustworthy(new URL(url)), true, url);
    }
    assert.equal(isPotentiallyTrustworthy(new URL("http://example.com/")), false);
  });

  it("parses referrer init values and Referrer-Policy headers", () => {
    assert.equal(parseReferrer(""), "no-referrer");
    assert.equal(parseReferrer("about:client"), "client");
    assert.equal(String(parseReferrer("https://a.example/x")), "https://a.example/x");
    assert.throws(() => parseReferrer("relative/without/base"), TypeError);
    assert.equal(policyFromHeader("no-referrer, bogus"), "no-referrer");
    assert.equal(policyFromHeader("unsafe-url, ORIGIN"), "origin");
    assert.equal(policyFromHeader("bogus"), "");
  });
});

describe("Referer and Origin set by the caller", () => {
  it("are kept as given", async () => {
    const seen: [string | undefined, string | undefined][] = [];
    const server = await startHttpServer((req, res) => {
      seen.push([req.headers.referer, req.headers.origin]);
      res.end();
    });
    const client = new Client();
    try {
      const response = await within(
        client.fetch(server.url, {
          referrer: `${server.url}/page`,
          headers: { Referer: "https://mine.example/", Origin: "https://mine.example" },
        }),
        5_000,
        "fetch",
      );
      await within(response.text(), 5_000, "the body");
      assert.deepEqual(seen, [["https://mine.example/", "https://mine.example"]]);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("come from a Request's referrer and referrerPolicy too (where its Request keeps them)", async () => {
    const seen: (string | undefined)[] = [];
    const server = await startHttpServer((req, res) => {
      seen.push(req.headers.referer);
      res.end();
    });
    const client = new Client();
    try {
      const request = new Request(server.url, {
        referrer: `${server.url}/page?x`,
        referrerPolicy: "origin",
      });
      await fetchText(client.fetch(request));
      // Bun's Request does not keep referrer (its `referrer` reads ""): nothing to send.
      assert.deepEqual(seen, [runtime === "bun" ? undefined : `${server.url}/`]);
    } finally {
      await closeBounded(client, [server]);
    }
  });
});
