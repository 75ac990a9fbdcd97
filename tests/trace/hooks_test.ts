// Trace hooks (plain objects, per client and per request) and the isolation of hooks and client
// listeners: a buggy tracer never breaks a request nor ends the process.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Client,
  type GotConnEvent,
  TRACE_EVENT_TYPES,
  type TraceEvent,
  type TraceHooks,
  type TraceInfo,
} from "../../mod.ts";
import { ALL_TRACE_BITS, TRACE_BIT } from "../../src/trace/hooks.ts";
import { delay, startHttpServer } from "../support/servers.ts";

type Info = TraceInfo & Record<string, unknown>;

/** A hooks object implementing every hook, recording what each receives. */
function recorder(): { hooks: TraceHooks; infos: Info[] } {
  const infos: Info[] = [];
  const hooks: Record<string, (info: Info) => void> = {};
  for (const type of TRACE_EVENT_TYPES) hooks[type] = (info) => void infos.push(info);
  return { hooks: hooks as TraceHooks, infos };
}

/** Replaces console.error while `body` runs; returns what it was called with. */
async function capturingErrors(body: () => Promise<void>): Promise<unknown[][]> {
  const calls: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void calls.push(args);
  try {
    await body();
  } finally {
    console.error = original;
  }
  return calls;
}

const localhost = () => Promise.resolve([{ address: "127.0.0.1", family: 4 as const }]);

describe("trace hooks", () => {
  it("calls each client hook with a plain object carrying the event's fields", async () => {
    const server = await startHttpServer((_req, res) => res.end("hello"));
    const { hooks, infos } = recorder();
    const client = new Client({ hooks, lookup: localhost });
    const events: TraceEvent[] = [];
    for (const type of TRACE_EVENT_TYPES) {
      client.addEventListener(type, (e) => events.push(e as TraceEvent));
    }
    try {
      await (await client.fetch(`http://localhost:${server.port}/a`)).text();
      await (await client.fetch(`http://localhost:${server.port}/b`)).text();
      assert.deepEqual(
        infos.map((i) => i.type),
        events.map((e) => e.type),
      );
      assert.ok(infos.some((i) => i.type === "dnsstart"));
      for (const [n, info] of infos.entries()) {
        assert.equal(Object.getPrototypeOf(info), Object.prototype);
        const event = events[n] as unknown as Record<string, unknown>;
        // Every own field of the event (its class's fields), with the same value. `isTrusted`
        // is an own property of every Event by the DOM standard ([LegacyUnforgeable]).
        const fields = Object.keys(event).filter((k) => k !== "isTrusted");
        assert.deepEqual(Object.keys(info).filter((k) => k !== "type").sort(), fields.sort());
        for (const key of fields) assert.deepEqual(info[key], event[key], `${info.type}.${key}`);
      }
      const got = infos.filter((i) => i.type === "gotconn") as unknown as TraceInfo<
        GotConnEvent
      >[];
      assert.deepEqual(got.map((g) => g.reused), [false, true]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("gives per-request hooks only their own request's events, after the client's", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const order: string[] = [];
    const client = new Client({ hooks: { getconn: () => void order.push("client") } });
    const { hooks, infos } = recorder();
    const own = hooks as Record<string, (info: Info) => void>;
    const getconn = own.getconn;
    own.getconn = (info) => {
      order.push("request");
      getconn(info);
    };
    try {
      const [a, b] = await Promise.all([
        client.fetch(`${server.url}/mine`, { hooks }),
        client.fetch(`${server.url}/other`),
      ]);
      await Promise.all([a.text(), b.text()]);
      assert.ok(infos.length >= 7);
      assert.ok(infos.every((i) => i.url === `${server.url}/mine`));
      assert.equal(new Set(infos.map((i) => i.requestId)).size, 1);
      assert.deepEqual(order, ["client", "request", "client"]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("reads which hooks exist once, and refuses names that are not event types", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const seen: string[] = [];
    const hooks: Record<string, (info: Info) => void> = {
      getconn: (i) => void seen.push(i.type),
    };
    const client = new Client({ hooks: hooks as TraceHooks });
    hooks.gotconn = (i) => void seen.push(i.type); // too late: not called
    try {
      await (await client.fetch(server.url)).text();
      assert.deepEqual(seen, ["getconn"]);
      assert.equal(client.tracing, true);
      assert.throws(
        () => new Client({ hooks: { gotConn() {} } as unknown as TraceHooks }),
        (e: unknown) => e instanceof TypeError && /did you mean gotconn/.test(e.message),
      );
      await assert.rejects(
        client.fetch(server.url, { hooks: { getConn() {} } as unknown as TraceHooks }),
        TypeError,
      );
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("calls a hook as a method of the hooks object (this is the object)", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    class Counter implements TraceHooks {
      count = 0;
      responsedone(): void {
        this.count++;
      }
    }
    const counter = new Counter();
    const client = new Client({ hooks: counter });
    try {
      await (await client.fetch(server.url)).text();
      await (await client.fetch(server.url)).text();
      assert.equal(counter.count, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("survives hooks that throw or reject: requests complete, reuse holds, reported once each", async () => {
    const server = await startHttpServer((_req, res) => res.end("body"));
    const later: string[] = [];
    const client = new Client({
      hooks: {
        gotconn() {
          throw new Error("sync hook bug");
        },
        async wroterequest() {
          await Promise.resolve();
          throw new Error("async hook bug");
        },
      },
    });
    // Added after the failing ones: still called.
    client.addHooks({ gotconn: (i) => void later.push(i.type) });
    let reqHookCalls = 0;
    const requestHooks: TraceHooks = {
      responsedone() {
        reqHookCalls++;
        throw new Error("request hook bug");
      },
    };
    try {
      const errors = await capturingErrors(async () => {
        for (let i = 0; i < 3; i++) {
          const response = await client.fetch(server.url, { hooks: requestHooks });
          assert.equal(await response.text(), "body");
        }
        await delay(20); // let the async hooks' rejections settle
      });
      assert.equal(server.accepted, 1); // the connection was reused despite the hooks
      assert.deepEqual(later, ["gotconn", "gotconn", "gotconn"]);
      assert.equal(reqHookCalls, 3);
      const messages = errors.map((args) => String(args[0]));
      assert.equal(messages.length, 3, messages.join("\n"));
      assert.ok(messages.some((m) => m.includes('"gotconn"')));
      assert.ok(messages.some((m) => m.includes('"wroterequest"')));
      assert.ok(messages.some((m) => m.includes('"responsedone"')));
      const reported = errors.map((args) => (args[1] as Error).message).sort();
      assert.deepEqual(reported, ["async hook bug", "request hook bug", "sync hook bug"]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("removes hooks added with addHooks", async () => {
    const server = await startHttpServer((_req, res) => res.end("x"));
    const client = new Client();
    const seen: string[] = [];
    const remove = client.addHooks({ getconn: (i) => void seen.push(i.type) });
    try {
      await (await client.fetch(server.url)).text();
      remove();
      assert.equal(client.tracing, false);
      await (await client.fetch(server.url)).text();
      assert.deepEqual(seen, ["getconn"]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("has one mask bit per event type, in TRACE_EVENT_TYPES order", () => {
    // A new event type must get its bit, or requests would never ask for it.
    assert.deepEqual(Object.keys(TRACE_BIT), [...TRACE_EVENT_TYPES]);
    assert.deepEqual(Object.values(TRACE_BIT), TRACE_EVENT_TYPES.map((_, i) => 1 << i));
    assert.equal(ALL_TRACE_BITS, 2 ** TRACE_EVENT_TYPES.length - 1);
  });

  it("sees the end of a request aborted before it started", async () => {
    const client = new Client();
    const seen: unknown[] = [];
    const reason = new Error("stop");
    await assert.rejects(
      client.fetch("http://127.0.0.1:9/", {
        signal: AbortSignal.abort(reason),
        hooks: { responsedone: (i) => void seen.push(i.error) },
      }),
      (e: unknown) => e === reason,
    );
    assert.deepEqual(seen, [reason]);
  });
});

describe("client listener isolation", () => {
  it("survives client listeners that throw or reject, reporting each type once", async () => {
    const server = await startHttpServer((_req, res) => res.end("ok"));
    const client = new Client();
    let after = 0;
    client.addEventListener("gotconn", () => {
      throw new Error("listener bug");
    });
    client.addEventListener("gotconn", () => void after++);
    client.addEventListener("responsedone", {
      handleEvent: () => Promise.reject(new Error("async listener bug")),
    });
    try {
      const errors = await capturingErrors(async () => {
        for (let i = 0; i < 3; i++) {
          assert.equal(await (await client.fetch(server.url)).text(), "ok");
        }
        await delay(20);
      });
      assert.equal(after, 3);
      assert.equal(server.accepted, 1);
      assert.equal(errors.length, 2);
      assert.deepEqual(
        errors.map((args) => (args[1] as Error).message).sort(),
        ["async listener bug", "listener bug"],
      );
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("passes the client as this, and removes a listener by the function that was added", async () => {
    const server = await startHttpServer((_req, res) => res.end("ok"));
    const client = new Client();
    const targets: unknown[] = [];
    const listener = function (this: unknown) {
      targets.push(this);
    };
    client.addEventListener("getconn", listener);
    client.addEventListener("getconn", listener); // a duplicate, ignored as EventTarget does
    try {
      await (await client.fetch(server.url)).text();
      assert.deepEqual(targets, [client]);
      client.removeEventListener("getconn", listener);
      assert.equal(client.tracing, false);
      await (await client.fetch(server.url)).text();
      assert.equal(targets.length, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("stops counting a once listener after it ran, and a listener whose signal aborted", async () => {
    const server = await startHttpServer((_req, res) => res.end("ok"));
    const client = new Client();
    const seen: string[] = [];
    client.addEventListener("getconn", (e) => void seen.push(e.type), { once: true });
    const controller = new AbortController();
    client.addEventListener("gotconn", (e) => void seen.push(e.type), {
      signal: controller.signal,
    });
    try {
      await (await client.fetch(server.url)).text();
      assert.deepEqual(seen, ["getconn", "gotconn"]);
      assert.equal(client.tracing, true);
      controller.abort();
      assert.equal(client.tracing, false);
      await (await client.fetch(server.url)).text();
      assert.deepEqual(seen, ["getconn", "gotconn"]);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
