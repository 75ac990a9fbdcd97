// Resource Timing: on Node every request becomes a PerformanceResourceTiming entry built from our
// timings, as Node's own fetch does; Deno and Bun keep no such entries (documented).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, timingsOf } from "../../mod.ts";
import { fixtures, startHttpServer } from "../support/servers.ts";

const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);

interface Entry extends PerformanceEntry {
  initiatorType: string;
  fetchStart: number;
  domainLookupStart: number;
  domainLookupEnd: number;
  connectStart: number;
  connectEnd: number;
  secureConnectionStart: number;
  requestStart: number;
  responseStart: number;
  responseEnd: number;
  encodedBodySize: number;
  nextHopProtocol: string;
}

function entriesFor(url: string): Entry[] {
  return (performance.getEntriesByType("resource") as Entry[]).filter((e) => e.name === url);
}

/** Clears the resource buffer where the runtime has one (Node keeps 250 entries by default). */
function clear(): void {
  (performance as { clearResourceTimings?: () => void }).clearResourceTimings?.();
}

const localhost = () => Promise.resolve([{ address: "127.0.0.1", family: 4 as const }]);

describe("Resource Timing", () => {
  it("records each request with its phases where the runtime keeps entries (Node)", async () => {
    clear();
    const server = await startHttpServer((_req, res) => res.end("hello"));
    const client = new Client({ lookup: localhost });
    const observed: Entry[] = [];
    const observer = isNode
      ? new PerformanceObserver((list) => observed.push(...(list.getEntries() as Entry[])))
      : null;
    observer?.observe({ type: "resource" });
    try {
      const url = `http://localhost:${server.port}/rt`;
      const first = await client.fetch(url);
      await first.text();
      const second = await client.fetch(url);
      await second.text();
      const entries = entriesFor(url);
      if (!isNode) {
        // Deno has no resource timeline; Bun's markResourceTiming records nothing.
        assert.deepEqual(entries, []);
        return;
      }
      assert.equal(entries.length, 2);
      const [a, b] = entries;
      assert.equal(a.entryType, "resource");
      assert.equal(a.initiatorType, "fetch");
      assert.equal(a.nextHopProtocol, "http/1.1");
      assert.equal(a.encodedBodySize, 5);
      assert.equal(a.duration, timingsOf(first)!.total);
      assert.ok(a.domainLookupStart > a.startTime);
      assert.ok(a.domainLookupStart <= a.domainLookupEnd);
      assert.ok(a.domainLookupEnd <= a.connectStart);
      assert.ok(a.connectStart < a.connectEnd);
      assert.ok(a.connectEnd <= a.requestStart);
      assert.ok(a.requestStart <= a.responseStart);
      assert.ok(a.responseStart <= a.responseEnd);
      assert.equal(a.secureConnectionStart, 0);
      const t = timingsOf(first)!;
      assert.ok(Math.abs(a.connectEnd - a.connectStart - t.connect) < 1e-9);
      // The reused connection: its phases collapse to the fetch's start.
      assert.equal(b.connectStart, b.fetchStart);
      assert.equal(b.domainLookupStart, b.fetchStart);
      assert.equal(b.duration, timingsOf(second)!.total);
      for (let i = 0; i < 50 && observed.length < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.deepEqual(observed.filter((e) => e.name === url).length, 2);
    } finally {
      observer?.disconnect();
      await client.close();
      await server.close();
    }
  });

  it("records the TLS handshake and the URL first requested across a redirect", async () => {
    clear();
    const server = await startHttpServer((req, res) => {
      if (req.url === "/from") {
        res.statusCode = 301;
        res.setHeader("location", "/to");
      }
      res.end("x");
    }, { tls: true });
    const client = new Client({ caCerts: [fixtures.ca] });
    try {
      const url = `https://localhost:${server.port}/from`;
      await (await client.fetch(url)).text();
      const entries = entriesFor(url);
      if (!isNode) {
        assert.deepEqual(entries, []);
        return;
      }
      assert.equal(entries.length, 1);
      const [entry] = entries;
      assert.ok(entry.secureConnectionStart >= entry.connectStart);
      assert.ok(entry.secureConnectionStart <= entry.connectEnd);
      assert.deepEqual(entriesFor(`https://localhost:${server.port}/to`), []);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("records nothing with resourceTiming: false", async () => {
    clear();
    const server = await startHttpServer((_req, res) => res.end("x"));
    const on = new Client();
    const off = new Client({ resourceTiming: false });
    try {
      assert.equal(off.resourceTiming, false);
      assert.equal(on.resourceTiming, true);
      await (await off.fetch(`${server.url}/off`)).text();
      await (await on.fetch(`${server.url}/on`)).text();
      assert.deepEqual(entriesFor(`${server.url}/off`), []);
      assert.equal(entriesFor(`${server.url}/on`).length, isNode ? 1 : 0);
    } finally {
      await on.close();
      await off.close();
      await server.close();
    }
  });
});
