// httpstat's progress bar, on fixed numbers.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatBytes, formatDuration, ProgressBar, progressLine } from "../../src/cli/progress.ts";

describe("progress bar", () => {
  it("formats bytes in binary units and durations as m:ss", () => {
    assert.equal(formatBytes(0), "0 B");
    assert.equal(formatBytes(1023), "1023 B");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatBytes(10 * 1024 * 1024), "10.0 MiB");
    assert.equal(formatDuration(0), "0:00");
    assert.equal(formatDuration(75), "1:15");
    assert.equal(formatDuration(3725), "1:02:05");
  });

  it("shows bytes, total, percentage, rate and time left when the total is known", () => {
    assert.equal(
      progressLine(512 * 1024, 2 * 1024 * 1024, 2),
      "[=====>              ]  25%  512.0 KiB / 2.0 MiB  256.0 KiB/s  ETA 0:06",
    );
    assert.equal(
      progressLine(1000, 1000, 1),
      "[====================] 100%  1000 B / 1000 B  1000 B/s  ETA 0:00",
    );
  });

  it("shows bytes and rate only when the total is unknown", () => {
    assert.equal(progressLine(3 * 1024, null, 3), "3.0 KiB  1.0 KiB/s");
  });

  it("redraws in place on one line, ends it, and draws nothing when disabled", () => {
    const drawn: string[] = [];
    const bar = new ProgressBar((s) => drawn.push(s), 100, true, 0);
    bar.update(40);
    bar.update(60);
    bar.done();
    assert.equal(drawn.length, 4);
    assert.ok(drawn.slice(0, 3).every((s) => s.startsWith("\r")));
    assert.match(drawn[2], / 100% {2}100 B \/ 100 B /);
    assert.equal(drawn[3], "\n");
    const none: string[] = [];
    const off = new ProgressBar((s) => none.push(s), 100, false, 0);
    off.update(100);
    off.done();
    assert.deepEqual(none, []);
  });
});
