// tcpInfo on real loopback connections, through the runtime's FFI: on Deno through a Deno.TcpConn
// (no descriptor: found by address), on Bun through a Bun socket (which has one), on Node through
// koffi and a node:net socket (found by address). The server is a node:net server in this process.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { Socket as NetSocket } from "node:net";
import { fdSearchStats, type TcpInfo, tcpInfo, type TcpInfoResult } from "../../tcp_info.ts";
import { loadBunCalls } from "../../src/tcp_info/ffi_bun.ts";
import { loadDenoCalls } from "../../src/tcp_info/ffi_deno.ts";
import { loadNodeCalls } from "../../src/tcp_info/ffi_node.ts";
import { socketKey, targetKey } from "../../src/tcp_info/native.ts";
import { delay, startRawServer } from "../support/servers.ts";
import { addressOnly, connect, runtime, type TestClient } from "./helpers.ts";

// inode → local and remote port of every IPv4 TCP socket, from /proc/net/tcp (ports in hex).
function tcpTable(): Map<string, { local: number; remote: number }> {
  const table = new Map<string, { local: number; remote: number }>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const columns = line.trim().split(/\s+/);
    if (columns.length < 10) continue;
    const port = (endpoint: string): number => parseInt(endpoint.split(":")[1], 16);
    table.set(columns[9], { local: port(columns[1]), remote: port(columns[2]) });
  }
  return table;
}

function infoOf(result: TcpInfoResult): TcpInfo {
  assert.equal(result.reason, undefined, `tcpInfo failed: ${result.code}: ${result.reason}`);
  return result.info!;
}

// Reads exactly `n` bytes from a node:net socket, then resolves.
function receive(socket: NetSocket, n: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    const onData = (chunk: Uint8Array): void => {
      got += chunk.length;
      if (got >= n) {
        socket.off("data", onData);
        resolve();
      }
    };
    socket.on("data", onData);
  });
}

describe("tcpInfo on Node without koffi", () => {
  it("answers UNSUPPORTED with a reason saying how to get it, without throwing", () => {
    const calls = loadNodeCalls((specifier) => {
      if (specifier === "koffi") throw new Error("Cannot find module 'koffi'");
      throw new Error(`unexpected ${specifier}`);
    });
    assert.ok("reason" in calls);
    assert.equal(calls.code, "UNSUPPORTED");
    assert.match(calls.reason, /optional npm package koffi, which is not installed/);
    assert.match(calls.reason, /Cannot find module 'koffi'/);
  });
});

{
  describe(`tcpInfo on ${runtime}`, () => {
    it("reads an ESTABLISHED connection: bytes acked, received and sent match the exchange", async () => {
      const SENT = 10_000;
      const RECEIVED = 3_000;
      let serverSide: NetSocket | undefined;
      const server = await startRawServer(async (socket) => {
        serverSide = socket;
        await receive(socket, SENT);
        socket.write(new Uint8Array(RECEIVED).fill(7));
      });
      const client = await connect("127.0.0.1", server.port);
      try {
        await client.write(new Uint8Array(SENT).fill(1));
        // The response is written after the server read everything, so the segments carrying it
        // acknowledge all of our bytes: once it is here, bytes_acked is final.
        await client.read(RECEIVED);
        const result = tcpInfo(client.target);
        const info = infoOf(result);
        assert.equal(info.platform, "linux");
        assert.equal(info.state, "ESTABLISHED");
        assert.equal(info.stateNumber, 1);
        // The SYN takes one sequence number and bytes_acked counts it.
        assert.equal(info.bytesAcked, SENT + 1);
        assert.equal(info.bytesReceived, RECEIVED);
        assert.equal(info.bytesSent, SENT);
        assert.equal(info.totalRetrans, 0);
        assert.equal(info.unacked, 0);
        // µs: loopback RTT is above zero and far below a second; Linux's RTO floor is 200 ms.
        assert.ok(info.rtt! > 0 && info.rtt! < 1_000_000, `rtt ${info.rtt}`);
        assert.ok(info.rto! >= 200_000 && info.rto! < 3_000_000, `rto ${info.rto}`);
        assert.ok(
          info.length >= 224,
          `a 4.19+ kernel fills at least 224 bytes, got ${info.length}`,
        );
        assert.equal(info.raw.length, info.length);
        assert.equal(info.options?.sack, true);
        if (runtime === "bun") assert.equal(result.fd, (client.target as { fd: number }).fd);

        // The server's end is a node:net socket in this process (address strings plus ports, no
        // fd): found by address, it shows the same exchange from the other side.
        const server_ = infoOf(tcpInfo(serverSide!));
        assert.equal(server_.bytesReceived, SENT);
        // The accepting side's SYN-ACK is not counted (the kernel sets snd_una directly when the
        // handshake completes), unlike the connecting side's SYN above.
        assert.equal(server_.bytesAcked, RECEIVED);
        assert.notEqual(tcpInfo(serverSide!).fd, result.fd);
      } finally {
        client.close();
        await server.close();
      }
    });

    it("reports last-data times in milliseconds", async () => {
      const server = await startRawServer((socket) => {
        socket.on("data", (chunk: Uint8Array) => socket.write(chunk));
      });
      const client = await connect("127.0.0.1", server.port);
      try {
        await client.write(new Uint8Array([1]));
        await client.read(1);
        await delay(300);
        const info = infoOf(tcpInfo(client.target));
        // 300 ms of silence: ~300 in ms (it would be ~300000 in µs).
        for (const name of ["lastDataSent", "lastDataRecv", "lastAckRecv"] as const) {
          assert.ok(info[name]! >= 250 && info[name]! < 10_000, `${name} = ${info[name]}`);
        }
      } finally {
        client.close();
        await server.close();
      }
    });

    it("finds the descriptor of a wirefetch-shaped socket (fd -1) by its addresses", async () => {
      const server = await startRawServer((socket) => {
        socket.on("data", (chunk: Uint8Array) => socket.write(chunk));
      });
      const client = await connect("127.0.0.1", server.port);
      try {
        await client.write(new Uint8Array(123));
        await client.read(123);
        const direct = tcpInfo(client.target);
        const byAddress = tcpInfo(addressOnly(client));
        assert.equal(byAddress.fd, direct.fd);
        assert.equal(infoOf(byAddress).bytesAcked, 124);
        assert.equal(infoOf(byAddress).bytesReceived, 123);
        if (runtime === "bun") assert.equal(byAddress.fd, (client.target as { fd: number }).fd);
      } finally {
        client.close();
        await server.close();
      }
    });

    it("sees the peer's FIN: CLOSE_WAIT", async () => {
      const server = await startRawServer((socket) => {
        socket.end();
      });
      const client = await connect("127.0.0.1", server.port);
      try {
        await client.eof();
        const result = tcpInfo(addressOnly(client));
        // Both runtimes keep the connection half-open until we close our side.
        assert.equal(infoOf(result).state, "CLOSE_WAIT");
        assert.equal(infoOf(result).stateNumber, 8);
      } finally {
        client.close();
        await server.close();
      }
    });

    it("answers NOT_FOUND for a closed connection, naming its addresses", async () => {
      const server = await startRawServer(() => {});
      const client = await connect("127.0.0.1", server.port);
      const target = addressOnly(client);
      assert.equal(tcpInfo(target).info?.state, "ESTABLISHED");
      client.close();
      // Bun closes asynchronously.
      for (let i = 0; i < 100 && tcpInfo(target).info !== undefined; i++) await delay(10);
      const result = tcpInfo(target);
      assert.equal(result.info, undefined);
      assert.equal(result.code, "NOT_FOUND");
      assert.match(result.reason!, new RegExp(`local 127\\.0\\.0\\.1:${client.local.port}, `));
      assert.match(result.reason!, new RegExp(`remote 127\\.0\\.0\\.1:${server.port} `));
      await server.close();
    });

    it("returns a reason, never throws, for descriptors that are not TCP sockets", () => {
      // A descriptor of this process that is not a socket, and one that is not open.
      const open = readdirSync("/proc/self/fd").map(Number);
      const file = open.find((fd) => {
        try {
          return !readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:");
        } catch {
          return false;
        }
      });
      assert.notEqual(file, undefined);
      const notSocket = tcpInfo(file!);
      assert.equal(notSocket.code, "SYSCALL");
      assert.match(notSocket.reason!, /ENOTSOCK \(errno 88\)/);
      const closed = tcpInfo(Math.max(...open) + 1000);
      assert.equal(closed.code, "SYSCALL");
      assert.match(closed.reason!, /EBADF \(errno 9\)/);
      assert.equal(tcpInfo(-1).code, "INVALID_TARGET");
      assert.equal(tcpInfo(1.5).code, "INVALID_TARGET");
      assert.equal(tcpInfo({}).code, "INVALID_TARGET");
      assert.equal(tcpInfo({ fd: -1 }).code, "INVALID_TARGET");
      assert.equal(tcpInfo(null as unknown as number).code, "INVALID_TARGET");
      assert.equal(tcpInfo("7" as unknown as number).code, "INVALID_TARGET");
    });

    it("matches 200 concurrent connections to 200 distinct, correct descriptors", async () => {
      const COUNT = 200;
      const server = await startRawServer((socket) => {
        socket.on("data", (chunk: Uint8Array) => socket.write(chunk));
      });
      const clients: TestClient[] = [];
      try {
        for (let i = 0; i < COUNT; i += 50) {
          clients.push(
            ...await Promise.all(
              Array.from({ length: 50 }, () => connect("127.0.0.1", server.port)),
            ),
          );
        }
        // Connection i sends i + 1 bytes and waits for their echo, so each connection's byte
        // counters identify it: a descriptor matched to the wrong connection shows the wrong count.
        await Promise.all(clients.map(async (client, i) => {
          await client.write(new Uint8Array(i + 1).fill(i & 0xff));
          await client.read(i + 1);
        }));
        // On Bun the sockets carry their fd: strip it so the search by address runs there too.
        const targets = clients.map((client) =>
          runtime === "deno" ? client.target : addressOnly(client)
        );
        const before = fdSearchStats() ??
          { scans: 0, probed: 0, unlistedScans: 0, cacheHits: 0, mapHits: 0, recentHits: 0 };
        const fds = targets.map((target, i) => {
          const result = tcpInfo(target);
          const info = infoOf(result);
          assert.equal(info.bytesAcked, i + 2, `connection ${i}`);
          assert.equal(info.bytesReceived, i + 1, `connection ${i}`);
          assert.equal(info.state, "ESTABLISHED");
          if (runtime === "bun") {
            assert.equal(result.fd, (clients[i].target as { fd: number }).fd, `connection ${i}`);
          }
          return result.fd!;
        });
        assert.equal(new Set(fds).size, COUNT);
        // Each descriptor's addresses are that connection's: through getsockname/getpeername...
        const calls = runtime === "deno"
          ? loadDenoCalls()
          : runtime === "bun"
          ? loadBunCalls()
          : loadNodeCalls();
        assert.ok(!("reason" in calls));
        fds.forEach((fd, i) => {
          assert.equal(socketKey(calls, fd), targetKey(addressOnly(clients[i])), `connection ${i}`);
        });
        // ...and, independently of our sockaddr decoding, through the kernel's socket table: the
        // descriptor's socket inode has this connection's local and remote port in /proc/net/tcp.
        const table = tcpTable();
        fds.forEach((fd, i) => {
          const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
          assert.deepEqual(table.get(inode!), {
            local: clients[i].local.port,
            remote: clients[i].remote.port,
          }, `connection ${i}`);
        });

        // One scan served all 200 lookups: the rest hit its map, or one of the recently found
        // descriptors (which the kernel reuses for new sockets) before any scan...
        const afterFirst = fdSearchStats()!;
        assert.equal(afterFirst.scans - before.scans, 1);
        assert.equal(
          afterFirst.mapHits - before.mapHits + afterFirst.recentHits - before.recentHits,
          COUNT - 1,
        );
        // ...and asking again rescans nothing: every target's descriptor is cached.
        for (const [i, target] of targets.entries()) assert.equal(tcpInfo(target).fd, fds[i]);
        const afterSecond = fdSearchStats()!;
        assert.equal(afterSecond.scans, afterFirst.scans);
        assert.equal(afterSecond.cacheHits - afterFirst.cacheHits, COUNT);
      } finally {
        for (const client of clients) client.close();
        await server.close();
      }
    });
  });
}
