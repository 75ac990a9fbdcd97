// timingsOf(): the arithmetic on fixed marks, and end to end what each phase measures.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Client, type ResponseDoneEvent, type TraceEvent } from "../../mod.ts";
import { TimingMarks } from "../../src/trace/timings.ts";
import { timingsOf } from "../../mod.ts";
import { delay, startHttpServer } from "../support/servers.ts";
import { closeBounded, within } from "../support/deadline.ts";

function marks(values: Partial<TimingMarks>): TimingMarks {
  return Object.assign(new TimingMarks(), values);
}

describe("timings arithmetic on fixed marks", () => {
  it("splits a new TLS connection's request into its phases and curl's cumulative points", () => {
    const t = marks({
      start: 100,
      dnsStart: 110,
      dnsDone: 120,
      connectStart: 120,
      connectDone: 150,
      tlsStart: 150,
      tlsDone: 190,
      gotConn: 195,
      wrote: 200,
      firstByte: 260,
      end: 300,
      complete: true,
    }).toTimings();
    assert.deepEqual(t, {
      // 95 ms to get the connection, 80 of them dialling: 15 waiting.
      queued: 15,
      dns: 10,
      connect: 30,
      proxy: 0,
      tls: 40,
      written: 5,
      // From the request written (200), not from the connection (195).
      ttfb: 60,
      transfer: 40,
      total: 200,
      reused: false,
      complete: true,
      cumulative: {
        namelookup: 25,
        connect: 55,
        pretransfer: 95,
        starttransfer: 160,
        total: 200,
      },
    });
  });

  it("counts a proxy tunnel between TCP and TLS, in pretransfer as curl does", () => {
    const t = marks({
      start: 0,
      connectStart: 0,
      connectDone: 10,
      proxyStart: 10,
      proxyDone: 25,
      tlsStart: 25,
      tlsDone: 45,
      gotConn: 45,
      wrote: 46,
      firstByte: 50,
      end: 60,
      complete: true,
    }).toTimings();
    assert.equal(t.proxy, 15);
    assert.equal(t.queued, 0);
    assert.deepEqual(t.cumulative, {
      namelookup: 0,
      connect: 10,
      pretransfer: 45,
      starttransfer: 50,
      total: 60,
    });
  });

  it("has no dial phases on a reused connection", () => {
    const t = marks({
      start: 1000,
      gotConn: 1002,
      wrote: 1003,
      firstByte: 1010,
      end: 1011,
      reused: true,
      complete: true,
    }).toTimings();
    assert.equal(t.queued, 2);
    assert.equal(t.dns + t.connect + t.tls, 0);
    assert.equal(t.written, 1);
    assert.equal(t.ttfb, 7);
    assert.equal(t.transfer, 1);
    assert.equal(t.total, 11);
    assert.equal(t.reused, true);
    assert.deepEqual(t.cumulative, {
      namelookup: 2,
      connect: 2,
      pretransfer: 2,
      starttransfer: 10,
      total: 11,
    });
  });

  it("stops at the failure when no response byte came", () => {
    const t = marks({ start: 0, gotConn: 4, wrote: 9, end: 50 }).toTimings();
    assert.equal(t.ttfb, 0);
    assert.equal(t.transfer, 0);
    assert.equal(t.total, 50);
    assert.equal(t.cumulative.starttransfer, 50);
    assert.equal(t.complete, false);
  });

  it("counts a slow upload as writing time, not server time", () => {
    // The body took 500 ms to send; the server answered 20 ms after it ended.
    const t = marks({ start: 0, gotConn: 1, wrote: 501, firstByte: 521, end: 522 }).toTimings();
    assert.equal(t.written, 500);
    assert.equal(t.ttfb, 20);
  });
});

describe("timings end to end", () => {
  it("measures ttfb from the last body byte written, during a slow upload", async () => {
    let received = 0;
    const server = await startHttpServer((req, res) => {
      req.on("data", (chunk: Uint8Array) => (received += chunk.length));
      req.on("end", () => res.end("ok"));
    });
    const client = new Client();
    try {
      const trace = new EventTarget();
      const events = new Map<string, TraceEvent>();
      for (const type of ["gotconn", "wroterequest", "gotfirstresponsebyte", "responsedone"]) {
        trace.addEventListener(type, (e) => events.set(type, e as TraceEvent));
      }
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === 3) return controller.close();
          // The upload is slow: the request is written well after the connection was there.
          if (sent > 0) await delay(60);
          sent++;
          controller.enqueue(new Uint8Array(1000).fill(sent));
        },
      });
      const response = await within(
        client.fetch(server.url, { method: "POST", body, duplex: "half", trace } as RequestInit),
        5_000,
        "the response",
      );
      assert.equal(await within(response.text(), 5_000, "the body"), "ok");
      assert.equal(received, 3000);
      const timings = timingsOf(response)!;
      const gotconn = events.get("gotconn")!.time;
      const wrote = events.get("wroterequest")!.time;
      const firstByte = events.get("gotfirstresponsebyte")!.time;
      // The events carry the very clock readings the timings are computed from.
      assert.ok(wrote > gotconn, "the upload took time");
      assert.equal(timings.written, wrote - gotconn);
      assert.equal(timings.ttfb, firstByte - wrote);
      assert.notEqual(timings.ttfb, firstByte - gotconn);
      assert.deepEqual((events.get("responsedone") as ResponseDoneEvent).timings, timings);
      assert.equal(timings.complete, true);
      // The phases add up to the total, and the cumulative points are their running sums.
      const sum = timings.queued + timings.dns + timings.connect + timings.proxy + timings.tls +
        timings.written + timings.ttfb + timings.transfer;
      assert.ok(Math.abs(sum - timings.total) < 1e-6, `${sum} vs ${timings.total}`);
      assert.ok(
        Math.abs(timings.cumulative.starttransfer - (sum - timings.transfer)) < 1e-6,
      );
    } finally {
      await closeBounded(client, [server]);
    }
  });
});
