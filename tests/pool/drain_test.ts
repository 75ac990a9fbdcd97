// The drain budget: bytes count while drained bodies are unread, and come back when the body is
// read again or garbage-collected.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type DrainBudget, releaseDrained, trackDrain } from "../../src/pool/drain.ts";

function collectGarbage(): void {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else if (g.gc) g.gc();
  else throw new Error("run with --v8-flags=--expose-gc (Deno) or under Bun");
}

describe("drain budget", () => {
  it("counts drained bytes until the body is read again", () => {
    const budget: DrainBudget = { limit: 100, used: 0 };
    const exchange = {};
    const record = trackDrain(exchange, budget);
    assert.equal(record.add(60), true);
    assert.equal(trackDrain(exchange, budget), record);
    assert.equal(record.add(60), false);
    assert.equal(budget.used, 120);
    releaseDrained(exchange);
    assert.equal(budget.used, 0);
    releaseDrained(exchange);
    assert.equal(budget.used, 0);
  });

  it("gives the bytes back when the body is garbage-collected", async () => {
    const budget: DrainBudget = { limit: 1000, used: 0 };
    (() => {
      trackDrain({}, budget).add(500);
    })();
    assert.equal(budget.used, 500);
    const used = (): number => budget.used;
    for (let i = 0; i < 100 && used() !== 0; i++) {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(budget.used, 0);
  });
});
