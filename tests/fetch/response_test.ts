// The shape of a fetched Response: type "basic", url without fragment, immutable headers, and a
// body that an abort errors even when every byte had arrived.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { readRequestHead, startHttpServer, startRawServer } from "../support/servers.ts";
import { rejection, runtime, within } from "./helpers.ts";
import { closeBounded } from "../support/deadline.ts";

const nativeFetch = globalThis.fetch;

function collectGarbage(): void {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else if (g.gc) g.gc();
  else throw new Error("run with --v8-flags=--expose-gc (Deno), --expose-gc (Node) or Bun");
}

/** A signal (duck-typed, as polyfills are) that counts its abort listeners. */
class CountingSignal extends EventTarget {
  aborted = false;
  reason: unknown = undefined;
  listeners = 0;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (type === "abort") this.listeners++;
    super.addEventListener(type, listener, options);
  }
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    if (type === "abort") this.listeners--;
    super.removeEventListener(type, listener, options);
  }
}

async function withServer(
  fn: (url: string, client: Client) => Promise<void>,
  body = '{"a":1}',
): Promise<void> {
  const server = await startHttpServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.setHeader("x-one", "1");
    res.end(body);
  });
  const client = new Client();
  try {
    await fn(server.url, client);
  } finally {
    await closeBounded(client, [server]);
  }
}

describe("fetched Response shape", () => {
  it('is of type "basic", its url has no fragment, and a redirect is reported', async () => {
    await withServer(async (url, client) => {
      const response = await within(client.fetch(`${url}/path?q=1#fragment`), 5_000, "fetch");
      assert.equal(response.type, "basic");
      assert.equal(response.url, `${url}/path?q=1`);
      assert.equal(response.clone().type, "basic");
      assert.equal(response.clone().url, `${url}/path?q=1`);
      await within(response.text(), 5_000, "the body");
      const bare = await within(client.fetch(`${url}/x#`), 5_000, "fetch");
      assert.equal(bare.url, `${url}/x`);
      await within(bare.text(), 5_000, "the body");
    });
  });

  it("has immutable headers (set/append/delete throw TypeError), clones too", async () => {
    await withServer(async (url, client) => {
      const response = await within(client.fetch(url), 5_000, "fetch");
      assert.ok(response.headers instanceof Headers);
      assert.equal(response.headers.get("x-one"), "1");
      assert.throws(() => response.headers.set("x-one", "2"), TypeError);
      assert.throws(() => response.headers.append("x-two", "2"), TypeError);
      assert.throws(() => response.headers.delete("x-one"), TypeError);
      assert.equal(response.headers.get("x-one"), "1");
      const copy = response.clone();
      assert.throws(() => copy.headers.set("x-one", "2"), TypeError);
      assert.equal(copy.headers.get("x-one"), "1");
      // The Content-Type still drives blob() and json() as it does on native responses.
      assert.match((await within(copy.blob(), 5_000, "the body")).type, /^application\/json/);
      assert.deepEqual(await within(response.json(), 5_000, "the body"), { a: 1 });
    });
  });

  it('leaves a constructed Response\'s headers mutable and its type "default"', () => {
    const response = new Response("x", { headers: { "x-one": "1" } });
    response.headers.set("x-one", "2");
    assert.equal(response.headers.get("x-one"), "2");
    assert.equal(response.type, "default");
  });

  it("has immutable headers on a streamed body and on a 204", async () => {
    const big = "y".repeat(512 * 1024);
    const server = await startHttpServer((req, res) => {
      res.statusCode = req.url === "/empty" ? 204 : 200;
      res.end(req.url === "/empty" ? undefined : big);
    });
    const client = new Client();
    try {
      const streamed = await within(client.fetch(server.url), 5_000, "fetch");
      assert.throws(() => streamed.headers.set("a", "b"), TypeError);
      assert.equal((await within(streamed.text(), 5_000, "the body")).length, big.length);
      const empty = await within(client.fetch(`${server.url}/empty`), 5_000, "fetch");
      assert.throws(() => empty.headers.set("a", "b"), TypeError);
      assert.equal(empty.body, null);
    } finally {
      await closeBounded(client, [server]);
    }
  });
});

type BodyMethod = "text" | "json" | "arrayBuffer" | "blob" | "formData" | "bytes";
const methods: BodyMethod[] = ["text", "json", "arrayBuffer", "blob", "formData"];
// Response.prototype.bytes is recent (Node 22, Deno 1.44, Bun 1.1): tested where it exists.
if (typeof (Response.prototype as { bytes?: unknown }).bytes === "function") methods.push("bytes");

describe("abort after the response", () => {
  for (const method of methods) {
    it(`${method}() rejects with the abort reason even when the whole body had arrived`, async () => {
      await withServer(async (url, client) => {
        const controller = new AbortController();
        const response = await within(
          client.fetch(url, { signal: controller.signal }),
          5_000,
          "fetch",
        );
        const reason = new Error("stop");
        controller.abort(reason);
        const log: string[] = [];
        const read = (response[method] as () => Promise<unknown>).call(response);
        const settled = read.then(() => log.push("resolved"), (e) => {
          log.push(e === reason ? "rejected with reason" : `rejected with ${e}`);
        });
        const tick = Promise.resolve().then(() => log.push("next microtask"));
        await within(Promise.all([settled, tick]), 5_000, "the body method");
        // As native fetch: the rejection is there before a microtask queued after the call.
        assert.deepEqual(log, ["rejected with reason", "next microtask"]);
      });
    });
  }

  it("errors response.body with the reason when it was not read before the abort", async () => {
    await withServer(async (url, client) => {
      const controller = new AbortController();
      const response = await within(
        client.fetch(url, { signal: controller.signal }),
        5_000,
        "fetch",
      );
      const reason = new Error("stop");
      controller.abort(reason);
      const reader = response.body!.getReader();
      assert.equal(await rejection(reader.read()), reason);
    });
  });

  it("rejects a second text() with the reason too", async () => {
    await withServer(async (url, client) => {
      const outcome = async (f: typeof fetch): Promise<string[]> => {
        const controller = new AbortController();
        const reason = new DOMException("stop", "AbortError");
        const response = await within(f(url, { signal: controller.signal }), 5_000, "fetch");
        controller.abort(reason);
        const result: string[] = [];
        for (let i = 0; i < 2; i++) {
          const error = await rejection(response.text());
          result.push(error === reason ? "reason" : (error as Error).name);
        }
        return result;
      };
      // Both calls reject with the reason, as Deno's and Node's fetch do (Bun's own rejects the
      // second with "Body already used": see the README's differences table).
      assert.deepEqual(await outcome(client.fetch), ["reason", "reason"]);
      // Node 20's undici rejects with an AbortError of its own rather than the reason.
      const native = (await outcome(nativeFetch)).map((r) => r === "reason" ? "AbortError" : r);
      if (runtime !== "bun") assert.deepEqual(native, ["AbortError", "AbortError"]);
    });
  });

  it("errors a streamed body read in progress with the reason", async () => {
    const server = await startRawServer(async (socket) => {
      await readRequestHead(socket);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n" + "z".repeat(1000));
    });
    const client = new Client();
    try {
      const controller = new AbortController();
      const response = await within(
        client.fetch(server.url, { signal: controller.signal }),
        5_000,
        "fetch",
      );
      const reason = new Error("mid-body");
      const reading = response.text();
      controller.abort(reason);
      assert.equal(await rejection(reading), reason);
    } finally {
      await closeBounded(client, [server]);
    }
  });

  it("does not pile listeners on a long-lived signal: they go with collected responses", async () => {
    await withServer(async (url, client) => {
      const signal = new CountingSignal();
      const init = { signal: signal as unknown as AbortSignal };
      // Held until counted: a collection during the loop (a loaded machine, Bun's heuristics)
      // would otherwise take some listeners early and make the count depend on timing.
      const held: Response[] = [];
      for (let i = 0; i < 20; i++) {
        const response = await within(client.fetch(url, init), 5_000, "fetch");
        await within(response.text(), 5_000, "the body");
        held.push(response);
      }
      // Each read response still listens (an abort would fail its body methods)...
      assert.equal(signal.listeners, 20);
      held.length = 0;
      // ...until it is garbage-collected. Bun's conservative collector may keep a few alive.
      for (let i = 0; i < 250 && signal.listeners > 2; i++) {
        collectGarbage();
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(signal.listeners <= 2, `${signal.listeners} listeners left`);
    });
  });
});
