// Not a test file of the suite (no _test suffix): tests/scripts/test_timeout_test.ts runs it on
// its own with a one-second limit, to prove a test that never finishes fails under its name.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";

describe("fixture suite", () => {
  it("waits forever on a listening socket", async () => {
    // An open listener keeps the event loop alive, as a hung network test would.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    await new Promise(() => {});
  });

  it("still runs after the hang", () => {
    assert.equal(1 + 1, 2);
  });
});
