// The descriptor search over a fake C library: caching, reuse of a descriptor number by another
// connection, probing by number without a listing, and the macOS sockaddr format.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FdFinder, type NativeCalls, targetKey, tcpInfoWith } from "../../src/tcp_info/native.ts";

interface FakeSocket {
  local: [string, number];
  remote: [string, number] | null; // null: a listener (getpeername fails)
}

// IPv4 only, which is all these tests need; `os` picks the sockaddr header format.
function sockaddr(into: Uint8Array, [address, port]: [string, number], os: "linux" | "darwin") {
  into.fill(0);
  if (os === "linux") into.set([2, 0]);
  else into.set([16, 2]);
  into.set([port >> 8, port & 0xff], 2);
  into.set(address.split(".").map(Number), 4);
}

function fake(os: "linux" | "darwin", listable = true) {
  const table = new Map<number, FakeSocket>();
  const counts = { getsockname: 0, getsockopt: 0, maxFds: 0 };
  let errno = 0;
  const calls: NativeCalls = {
    os,
    getsockopt(fd, _level, _name, value, length) {
      counts.getsockopt++;
      if (!table.has(fd)) {
        errno = 9;
        return -1;
      }
      value.fill(0);
      value[0] = os === "linux" ? 1 : 4; // ESTABLISHED on each
      new DataView(value.buffer).setUint32(os === "linux" ? 68 : 44, fd, true); // rtt = fd
      length[0] = os === "linux" ? 104 : 112;
      return 0;
    },
    getsockname(fd, address, length) {
      counts.getsockname++;
      const socket = table.get(fd);
      if (!socket) {
        errno = 9;
        return -1;
      }
      sockaddr(address, socket.local, os);
      length[0] = 16;
      return 0;
    },
    getpeername(fd, address, length) {
      const socket = table.get(fd);
      if (!socket?.remote) {
        errno = 107;
        return -1;
      }
      sockaddr(address, socket.remote, os);
      length[0] = 16;
      return 0;
    },
    errno: () => errno,
    listFds: () => (listable ? [...table.keys()].sort((a, b) => a - b) : undefined),
    maxFds() {
      counts.maxFds++;
      return 1 << 20;
    },
  };
  return { calls, table, counts };
}

const conn = (localPort: number, remotePort = 80) => ({
  localAddr: { hostname: "10.0.0.1", port: localPort },
  remoteAddr: { hostname: "10.0.0.2", port: remotePort },
});

describe("FdFinder", () => {
  it("finds by address, caches per object, and scans once for many lookups", () => {
    const { calls, table } = fake("linux");
    table.set(3, { local: ["0.0.0.0", 80], remote: null });
    for (let fd = 10; fd < 60; fd++) {
      table.set(fd, { local: ["10.0.0.1", 40000 + fd], remote: ["10.0.0.2", 80] });
    }
    const finder = new FdFinder(calls);
    const targets = Array.from({ length: 50 }, (_, i) => conn(40010 + i));
    targets.forEach((target, i) => {
      assert.equal(finder.find(target, targetKey(target)!), 10 + i);
    });
    assert.equal(finder.stats.scans, 1);
    assert.equal(finder.stats.mapHits, 49);
    targets.forEach((target, i) => assert.equal(finder.find(target, targetKey(target)!), 10 + i));
    assert.equal(finder.stats.cacheHits, 50);
    assert.equal(finder.stats.scans, 1);
  });

  it("notices a descriptor number reused by another connection", () => {
    const { calls, table } = fake("linux");
    table.set(7, { local: ["10.0.0.1", 5000], remote: ["10.0.0.2", 80] });
    const finder = new FdFinder(calls);
    const first = conn(5000);
    assert.equal(finder.find(first, targetKey(first)!), 7);
    // The connection closes; fd 7 now belongs to a new connection, and the old one is gone.
    table.set(7, { local: ["10.0.0.1", 5001], remote: ["10.0.0.2", 80] });
    assert.equal(finder.find(first, targetKey(first)!), undefined);
    const second = conn(5001);
    assert.equal(finder.find(second, targetKey(second)!), 7);
    // A connection moved to another descriptor is found there, not at the cached one.
    table.delete(7);
    table.set(9, { local: ["10.0.0.1", 5001], remote: ["10.0.0.2", 80] });
    assert.equal(finder.find(second, targetKey(second)!), 9);
  });

  it("probes by number from 0 when descriptors cannot be listed, stopping at the match", () => {
    const { calls, table, counts } = fake("linux", false);
    table.set(5, { local: ["10.0.0.1", 6000], remote: ["10.0.0.2", 80] });
    table.set(900, { local: ["10.0.0.1", 6001], remote: ["10.0.0.2", 80] });
    const finder = new FdFinder(calls);
    const target = conn(6000);
    assert.equal(finder.find(target, targetKey(target)!), 5);
    assert.equal(counts.getsockname, 6); // descriptors 0..5
    assert.equal(finder.stats.unlistedScans, 1);
    // A socket that is not there: probed up to the cap of 65536, not the 2^20 limit.
    counts.getsockname = 0;
    const missing = conn(7000);
    assert.equal(finder.find(missing, targetKey(missing)!), undefined);
    // The recently found descriptor 5 first, then the probe up to the cap.
    assert.equal(counts.getsockname, 1 + 65536);
  });

  it("tries the most recently found descriptors before scanning (the kernel reuses them)", () => {
    const { calls, table, counts } = fake("linux");
    table.set(7, { local: ["10.0.0.1", 8000], remote: ["10.0.0.2", 80] });
    table.set(8, { local: ["10.0.0.1", 8001], remote: ["10.0.0.2", 80] });
    const finder = new FdFinder(calls);
    const first = conn(8000);
    assert.equal(finder.find(first, targetKey(first)!), 7);
    assert.equal(finder.stats.scans, 1);
    // The connection on 7 closes and a new one gets descriptor 7.
    table.set(7, { local: ["10.0.0.1", 8002], remote: ["10.0.0.2", 80] });
    counts.getsockname = 0;
    const next = conn(8002);
    assert.equal(finder.find(next, targetKey(next)!), 7);
    assert.equal(finder.stats.scans, 1, "no scan");
    assert.equal(finder.stats.recentHits, 1);
    assert.equal(counts.getsockname, 1);
  });

  it("decodes macOS sockaddrs and TCP_CONNECTION_INFO through the same path", () => {
    const { calls, table } = fake("darwin");
    table.set(4, { local: ["10.0.0.1", 7000], remote: ["10.0.0.2", 443] });
    const finder = new FdFinder(calls);
    const result = tcpInfoWith(calls, finder, conn(7000, 443));
    assert.equal(result.fd, 4);
    assert.equal(result.info?.platform, "darwin");
    assert.equal(result.info?.state, "ESTABLISHED");
    assert.equal(result.info?.rtt, 4000); // 4 ms, in µs
  });

  it("uses a visible fd directly, without searching", () => {
    const { calls, table, counts } = fake("linux");
    table.set(12, { local: ["10.0.0.1", 8000], remote: ["10.0.0.2", 80] });
    const finder = new FdFinder(calls);
    const result = tcpInfoWith(calls, finder, { fd: 12, ...conn(1) });
    assert.equal(result.fd, 12);
    assert.equal(result.info?.rtt, 12);
    assert.equal(counts.getsockname, 0);
    assert.equal(finder.stats.scans, 0);
    const bad = tcpInfoWith(calls, finder, 13);
    assert.equal(bad.code, "SYSCALL");
    assert.match(bad.reason!, /^getsockopt\(13, IPPROTO_TCP, TCP_INFO\) failed with EBADF/);
  });
});
