// data:, blob: and file: URLs go to the runtime's own fetch (captured at load, so installing
// wirefetch as the global fetch cannot recurse); about: and unknown schemes are network errors.
// None of them touches a pool or emits a trace event.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Client, WirefetchError } from "../../mod.ts";
import { install, uninstall } from "../../global.ts";
import { rejection, runtime, within } from "./helpers.ts";

/** A client that records every trace event it emits. */
function tracedClient(): { client: Client; events: string[] } {
  const client = new Client();
  const events: string[] = [];
  for (const type of ["getconn", "queued", "dnsstart", "connectstart", "gotconn", "connclose"]) {
    client.addEventListener(type, () => events.push(type));
  }
  return { client, events };
}

describe("data: URLs", () => {
  it("are served without the network: body, type, status, no fragment", async () => {
    const { client, events } = tracedClient();
    try {
      const response = await within(
        client.fetch("data:text/plain;charset=utf-8,h%C3%A9llo#frag"),
        5_000,
        "fetch",
      );
      assert.equal(response.status, 200);
      assert.equal(response.type, "basic");
      assert.equal(response.url, "data:text/plain;charset=utf-8,h%C3%A9llo");
      assert.equal(response.headers.get("content-type"), "text/plain;charset=utf-8");
      assert.throws(() => response.headers.set("x", "y"), TypeError);
      assert.equal(await within(response.text(), 5_000, "the body"), "héllo");
      const base64 = await within(
        client.fetch("data:application/octet-stream;base64,AAEC/w=="),
        5_000,
        "fetch",
      );
      assert.deepEqual(new Uint8Array(await base64.arrayBuffer()), new Uint8Array([0, 1, 2, 255]));
      assert.deepEqual(client.stats().origins, {});
      assert.deepEqual(events, []);
    } finally {
      await client.close();
    }
  });

  it("reject with the abort reason when the signal was already aborted", async () => {
    const client = new Client();
    try {
      const reason = new Error("stop");
      const error = await rejection(client.fetch("data:,x", { signal: AbortSignal.abort(reason) }));
      assert.equal(error, reason);
    } finally {
      await client.close();
    }
  });

  it("work through the installed global fetch without recursing", async () => {
    const client = new Client();
    install(client);
    try {
      const response = await within(globalThis.fetch("data:,installed"), 5_000, "fetch");
      assert.equal(await within(response.text(), 5_000, "the body"), "installed");
      assert.deepEqual(client.stats().origins, {});
    } finally {
      uninstall();
      await client.close();
    }
  });
});

describe("blob: URLs", () => {
  it("serve the Blob's bytes and type", async () => {
    const url = URL.createObjectURL(new Blob(["blobby"], { type: "text/x-blob" }));
    const client = new Client();
    try {
      const response = await within(client.fetch(url), 5_000, "fetch");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/x-blob");
      assert.equal(await within(response.text(), 5_000, "the body"), "blobby");
    } finally {
      URL.revokeObjectURL(url);
      await client.close();
    }
  });
});

describe("file: URLs", () => {
  it("behave as the runtime's own fetch: read on Deno and Bun, a network error on Node", async () => {
    const url = new URL("../fixtures/ca.pem", import.meta.url);
    const client = new Client();
    try {
      if (runtime === "node") {
        const error = await rejection(client.fetch(url));
        assert.ok(error instanceof TypeError);
        assert.equal(error.message, "fetch failed");
      } else {
        const response = await within(client.fetch(url), 5_000, "fetch");
        assert.match(
          await within(response.text(), 5_000, "the body"),
          /^-----BEGIN CERTIFICATE-----/,
        );
        assert.equal(response.url, url.href);
        assert.ok(fileURLToPath(url).endsWith("ca.pem"));
      }
    } finally {
      await client.close();
    }
  });
});

describe("other schemes", () => {
  it('about: and unknown schemes are a network error (TypeError "fetch failed")', async () => {
    const { client, events } = tracedClient();
    try {
      for (const url of ["about:blank", "about:client", "foo:bar", "ws://127.0.0.1:9/"]) {
        const error = await rejection(client.fetch(url));
        assert.ok(error instanceof TypeError);
        assert.equal(error.message, "fetch failed");
        assert.ok(error.cause instanceof WirefetchError);
        assert.equal(error.cause.code, "ERR_SCHEME");
      }
      assert.deepEqual(events, []);
    } finally {
      await client.close();
    }
  });
});
