// Address parsing and sockaddr decoding: the key that matches a socket object to a descriptor.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { endpointKey, formatKey, parseIp, sockaddrKey } from "../../src/tcp_info/sockaddr.ts";
import { formatPair, targetKey } from "../../src/tcp_info/native.ts";

const bytes = (...values: number[]): number[] => values;

describe("parseIp", () => {
  it("parses IPv4 as IPv4-mapped IPv6", () => {
    assert.deepEqual(
      [...parseIp("192.168.1.20")!],
      bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 192, 168, 1, 20),
    );
  });

  it("parses IPv6 forms: compressed, full, brackets, zone, embedded IPv4", () => {
    const loopback = bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
    assert.deepEqual([...parseIp("::1")!], loopback);
    assert.deepEqual([...parseIp("[::1]")!], loopback);
    assert.deepEqual([...parseIp("0:0:0:0:0:0:0:1")!], loopback);
    assert.deepEqual(
      [...parseIp("fe80::1:2%eth0")!],
      bytes(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2),
    );
    assert.deepEqual([...parseIp("::ffff:127.0.0.1")!], [...parseIp("127.0.0.1")!]);
    assert.deepEqual(
      [...parseIp("2001:DB8::")!],
      bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    );
  });

  it("rejects host names and malformed addresses", () => {
    for (
      const text of [
        "localhost",
        "1.2.3",
        "1.2.3.256",
        "1::2::3",
        "12345::",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "1.2.3.4::",
        "",
      ]
    ) {
      assert.equal(parseIp(text), undefined, text);
    }
  });
});

describe("sockaddrKey", () => {
  it("decodes Linux sockaddr_in and sockaddr_in6 (family in host order, port big-endian)", () => {
    const in4 = new Uint8Array(128);
    in4.set([2, 0, 0x1f, 0x90, 127, 0, 0, 1]);
    assert.equal(sockaddrKey(in4, 16, "linux"), endpointKey("127.0.0.1", 8080));
    const in6 = new Uint8Array(128);
    in6.set([10, 0, 0x01, 0xbb, 0, 0, 0, 0]);
    in6[23] = 1; // ::1
    assert.equal(sockaddrKey(in6, 28, "linux"), endpointKey("::1", 443));
  });

  it("decodes macOS sockaddrs (length byte, one-byte family, AF_INET6 = 30)", () => {
    const in6 = new Uint8Array(128);
    in6.set([28, 30, 0x00, 0x50, 0, 0, 0, 0]);
    in6[23] = 1;
    assert.equal(sockaddrKey(in6, 28, "darwin"), endpointKey("::1", 80));
    // Linux's AF_INET6 number means nothing on macOS.
    in6[1] = 10;
    assert.equal(sockaddrKey(in6, 28, "darwin"), undefined);
  });

  it("ignores other families (a Unix socket) and short lengths", () => {
    const unix = new Uint8Array(128);
    unix.set([1, 0, 47, 116, 109, 112]); // AF_UNIX, "/tmp"
    assert.equal(sockaddrKey(unix, 110, "linux"), undefined);
    const in6 = new Uint8Array(128);
    in6.set([10, 0, 0, 80]);
    assert.equal(sockaddrKey(in6, 16, "linux"), undefined);
  });

  it("matches an IPv4 peer reported as IPv4-mapped IPv6 by a dual-stack socket", () => {
    const mapped = new Uint8Array(128);
    mapped.set([10, 0, 0x1f, 0x90, 0, 0, 0, 0]);
    mapped.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 7], 8);
    assert.equal(sockaddrKey(mapped, 28, "linux"), endpointKey("10.0.0.7", 8080));
  });
});

describe("targetKey", () => {
  const local = endpointKey("127.0.0.1", 50000);
  const remote = endpointKey("127.0.0.1", 80);

  it("reads every supported socket shape to the same key", () => {
    const expected = `${local}|${remote}`;
    // Deno.TcpConn
    assert.equal(
      targetKey({
        localAddr: { hostname: "127.0.0.1", port: 50000, transport: "tcp" },
        remoteAddr: { hostname: "127.0.0.1", port: 80, transport: "tcp" },
      }),
      expected,
    );
    // wirefetch's Socket
    assert.equal(
      targetKey({
        fd: -1,
        localAddress: { address: "127.0.0.1", port: 50000 },
        remoteAddress: { address: "127.0.0.1", port: 80 },
      }),
      expected,
    );
    // node:net
    assert.equal(
      targetKey({
        localAddress: "::ffff:127.0.0.1",
        localPort: 50000,
        remoteAddress: "127.0.0.1",
        remotePort: 80,
      }),
      expected,
    );
  });

  it("is undefined without IP endpoints, and never throws on hostile getters", () => {
    assert.equal(targetKey({}), undefined);
    assert.equal(
      targetKey({ localAddr: { transport: "unix" }, remoteAddr: { transport: "unix" } }),
      undefined,
    );
    assert.equal(targetKey({ localAddress: "127.0.0.1", remoteAddress: "127.0.0.1" }), undefined);
    const hostile = {
      get localAddr(): never {
        throw new Error("closed");
      },
    };
    assert.equal(targetKey(hostile), undefined);
  });

  it("formats keys back for messages", () => {
    assert.equal(formatKey(endpointKey("10.1.2.3", 8080)!), "10.1.2.3:8080");
    assert.equal(formatKey(endpointKey("fe80::1", 1)!), "[fe80:0:0:0:0:0:0:1]:1");
    assert.equal(formatPair(`${local}|${remote}`), "local 127.0.0.1:50000, remote 127.0.0.1:80");
  });
});
