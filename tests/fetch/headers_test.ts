// Request header fields as the caller wrote them: names keep their casing, names that differ
// only in case are one field, a caller-set Host is honoured; and fetch looks like Web IDL's.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, defaultClient, fetch } from "../../mod.ts";
import { install, uninstall } from "../../global.ts";
import { readRequest, startHttpServer, startRawServer } from "../support/servers.ts";
import { fetchText, within } from "./helpers.ts";
import { closeBounded } from "../support/deadline.ts";

/** Fetches from a raw server and returns the request head's field lines as sent. */
async function sentFields(init: RequestInit, path = "/"): Promise<string[]> {
  let head = "";
  const server = await startRawServer(async (socket) => {
    head = (await readRequest(socket)).head;
    socket.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  });
  const client = new Client({ userAgent: null });
  try {
    await fetchText(client.fetch(server.url + path, init));
  } finally {
    await closeBounded(client, [server]);
  }
  return head.split("\r\n").slice(1, -2);
}

describe("request header names", () => {
  it("keep the caller's casing from a plain object", async () => {
    const fields = await sentFields({ headers: { "X-Request-ID": "7", "content-TYPE": "a/b" } });
    assert.ok(fields.includes("X-Request-ID: 7"), fields.join(" | "));
    assert.ok(fields.includes("content-TYPE: a/b"), fields.join(" | "));
  });

  it("keep the caller's casing from an array of pairs, and a Headers object lowercases", async () => {
    const pairs = await sentFields({ headers: [["X-Trace", "1"]] });
    assert.ok(pairs.includes("X-Trace: 1"), pairs.join(" | "));
    const headers = await sentFields({ headers: new Headers({ "X-Trace": "1" }) });
    assert.ok(headers.includes("x-trace: 1"), headers.join(" | "));
  });

  it("combine names that differ only in case into one field, first spelling kept", async () => {
    const fields = await sentFields({
      headers: [["A", "1"], ["a", "2"], ["X-E", ""], ["x-e", "3"], ["x-f", "4"], ["X-F", ""]],
    });
    assert.ok(fields.includes("A: 1, 2"), fields.join(" | "));
    // Fetch "combine": empty values still add their ", ".
    assert.ok(fields.includes("X-E: , 3"), fields.join(" | "));
    assert.ok(fields.includes("x-f: 4, "), fields.join(" | "));
    assert.equal(fields.filter((f) => /^a:/i.test(f)).length, 1);
    // The same list in a Headers object gives the same values (names lowercased).
    const h = new Headers([["A", "1"], ["a", "2"], ["X-E", ""], ["x-e", "3"]]);
    assert.equal(h.get("a"), "1, 2");
    assert.equal(h.get("x-e"), ", 3");
  });
});

describe("Host", () => {
  it("sends a caller-set Host, keeps it on same-origin redirects and drops it across origins", async () => {
    const hosts: string[] = [];
    const other = await startHttpServer((req, res) => {
      hosts.push(`other ${req.headers.host}`);
      res.end("other");
    });
    const server = await startHttpServer((req, res) => {
      hosts.push(`main ${req.headers.host}`);
      if (req.url === "/same") {
        res.statusCode = 302;
        res.setHeader("location", "/cross");
      } else if (req.url === "/cross") {
        res.statusCode = 302;
        res.setHeader("location", `${other.url}/end`);
      }
      res.end();
    });
    const client = new Client();
    try {
      const response = await within(
        client.fetch(`${server.url}/same`, { headers: { Host: "virtual.test" } }),
        5_000,
        "fetch",
      );
      await within(response.text(), 5_000, "the body");
      assert.deepEqual(hosts, [
        "main virtual.test",
        "main virtual.test",
        `other 127.0.0.1:${new URL(other.url).port}`,
      ]);
    } finally {
      await closeBounded(client, [server]);
      await other.close();
    }
  });

  it("is written first, in the caller's casing, once", async () => {
    const fields = await sentFields({ headers: { HOST: "v.test" } });
    assert.equal(fields[0], "HOST: v.test");
    assert.equal(fields.filter((f) => /^host:/i.test(f)).length, 1);
  });
});

describe("fetch functions", () => {
  it('are named "fetch" with length 1, as Web IDL gives the native one', () => {
    const client = new Client();
    const installed = (() => {
      install(client);
      try {
        return globalThis.fetch;
      } finally {
        uninstall();
      }
    })();
    for (const f of [fetch, client.fetch, defaultClient.fetch, installed]) {
      assert.equal(f.name, "fetch");
      assert.equal(f.length, 1);
    }
  });
});
