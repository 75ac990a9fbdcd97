// warnings(): each rule fires on its own counter, respects its threshold, and stays quiet on a
// healthy reading and on fields the kernel did not report.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeLinuxTcpInfo, type TcpInfo, warnings } from "../../tcp_info.ts";

// A healthy 6.18-sized reading with every counter at zero, then the given fields changed.
function reading(fields: Partial<TcpInfo> = {}, length = 280): TcpInfo {
  const bytes = new Uint8Array(length);
  bytes[0] = 1;
  const view = new DataView(bytes.buffer);
  view.setUint32(88, 3, true); // tcpi_reordering starts at 3
  const base = decodeLinuxTcpInfo(bytes, length);
  return { ...base, ...fields };
}

const codes = (info: TcpInfo, limitedShare?: number): string[] =>
  warnings(info, limitedShare === undefined ? {} : { limitedShare }).map((w) => w.code);

describe("warnings", () => {
  it("is empty for a healthy connection", () => {
    assert.deepEqual(warnings(reading()), []);
  });

  it("reports retransmissions, with bytes and the current RTO streak", () => {
    const [warning] = warnings(reading({ totalRetrans: 4, bytesRetrans: 5792 }));
    assert.equal(warning.code, "RETRANSMISSIONS");
    assert.equal(warning.value, 4);
    assert.match(warning.message, /4 segment\(s\) retransmitted \(5792 bytes\)/);
    const current = warnings(reading({ retransmits: 2 }));
    assert.deepEqual(current.map((w) => w.code), ["RETRANSMISSIONS"]);
    assert.match(current[0].message, /2 consecutive timeout/);
  });

  it("reports RTO backoff and lost segments", () => {
    assert.deepEqual(codes(reading({ backoff: 3 })), ["RTO_BACKOFF"]);
    const [lost] = warnings(reading({ lost: 2 }));
    assert.equal(lost.code, "LOST");
    assert.equal(lost.value, 2);
  });

  it("reports window- and buffer-limited time above the share threshold only", () => {
    // 10% exactly is not above the default threshold of 10%.
    assert.deepEqual(codes(reading({ busyTime: 1_000_000, rwndLimited: 100_000 })), []);
    const [rwnd] = warnings(reading({ busyTime: 1_000_000, rwndLimited: 250_000 }));
    assert.equal(rwnd.code, "RWND_LIMITED");
    assert.equal(rwnd.value, 0.25);
    assert.match(rwnd.message, /25% of the sending time/);
    assert.deepEqual(
      codes(reading({ busyTime: 1_000_000, sndbufLimited: 600_000 })),
      ["SNDBUF_LIMITED"],
    );
    // A stricter threshold catches the 10%.
    assert.deepEqual(
      codes(reading({ busyTime: 1_000_000, rwndLimited: 100_000 }), 0.05),
      ["RWND_LIMITED"],
    );
    // No busy time: no share to compute, no warning.
    assert.deepEqual(codes(reading({ busyTime: 0, rwndLimited: 5 })), []);
  });

  it("reports reordering (reord_seen, or the tolerance on kernels without it)", () => {
    assert.deepEqual(codes(reading({ reordSeen: 1 })), ["REORDERING"]);
    // A 6.18 kernel reports reord_seen = 0: a raised tolerance alone is not a new event.
    assert.deepEqual(codes(reading({ reordering: 12 })), []);
    // A 4.18 kernel has no reord_seen: the grown tolerance is the evidence.
    assert.deepEqual(codes(reading({ reordering: 12 }, 200)), ["REORDERING"]);
    assert.deepEqual(codes(reading({ reordering: 3 }, 200)), []);
  });

  it("reports out-of-order packets", () => {
    const [ooo] = warnings(reading({ rcvOoopack: 7 }));
    assert.equal(ooo.code, "OUT_OF_ORDER");
    assert.equal(ooo.value, 7);
  });

  it("skips fields the kernel did not report (a 104-byte struct)", () => {
    const old = reading({}, 104);
    assert.equal(old.busyTime, undefined);
    assert.deepEqual(warnings(old), []);
  });

  it("gives every finding in a fixed order", () => {
    assert.deepEqual(
      codes(
        reading({
          rcvOoopack: 1,
          reordSeen: 1,
          busyTime: 10,
          sndbufLimited: 5,
          rwndLimited: 5,
          lost: 1,
          backoff: 1,
          totalRetrans: 1,
        }),
      ),
      [
        "RETRANSMISSIONS",
        "RTO_BACKOFF",
        "LOST",
        "RWND_LIMITED",
        "SNDBUF_LIMITED",
        "REORDERING",
        "OUT_OF_ORDER",
      ],
    );
  });
});
