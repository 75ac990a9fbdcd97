// The racing algorithm of RFC 8305 with scripted attempts (real sockets are in the trace tests).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { interleave, race } from "../../src/net/happy_eyeballs.ts";
import type { LookupAddress } from "../../src/net/resolve.ts";
import { ABANDONED, type Socket } from "../../src/runtime/socket.ts";

const v6: LookupAddress = { address: "2001:db8::1", family: 6 };
const v4: LookupAddress = { address: "192.0.2.1", family: 4 };
const v4b: LookupAddress = { address: "192.0.2.2", family: 4 };

function fakeSocket(name: string, closed: string[]): Socket {
  return { close: () => closed.push(name) } as unknown as Socket;
}

describe("happy eyeballs", () => {
  it("interleaves families starting with IPv6", () => {
    assert.deepEqual(interleave([v4, v4b, v6]), [v6, v4, v4b]);
  });

  it("starts the next attempt after the delay when the first hangs, and the first TCP wins", async () => {
    const started: [string, number][] = [];
    const closed: string[] = [];
    const t0 = performance.now();
    const socket = await race(
      [v6, v4],
      (address, onTcp) => {
        started.push([address.address, performance.now() - t0]);
        if (address === v6) return new Promise(() => {}); // an unreachable address: never answers
        return new Promise((resolve) => {
          setTimeout(() => {
            assert.equal(onTcp(), true);
            resolve(fakeSocket("v4", closed));
          }, 5);
        });
      },
      null,
      50,
    );
    assert.equal(started.length, 2);
    assert.ok(started[1][1] >= 45, `second attempt after the delay, at ${started[1][1]}`);
    assert.ok(socket);
  });

  it("abandons a slower attempt once one has connected", async () => {
    const closed: string[] = [];
    let loserVerdict: boolean | undefined;
    // The IPv6 attempt reaches TCP only after the IPv4 one has: ordered by a promise, not by
    // timer lengths, which a loaded machine can reorder.
    let v4Connected!: () => void;
    const afterV4 = new Promise<void>((r) => v4Connected = r);
    let loserDone!: () => void;
    const loserSettled = new Promise<void>((r) => loserDone = r);
    await race(
      [v6, v4],
      (address, onTcp) =>
        new Promise((resolve, reject) => {
          const connect = () => {
            const go = onTcp();
            if (address === v6) {
              loserVerdict = go;
              loserDone();
            } else v4Connected();
            if (go) resolve(fakeSocket(address.address, closed));
            else reject(new Error(ABANDONED));
          };
          if (address === v6) afterV4.then(() => setTimeout(connect, 1));
          else setTimeout(connect, 5);
        }),
      null,
      1,
    );
    await Promise.race([loserSettled, new Promise((r) => setTimeout(r, 5_000))]);
    assert.equal(loserVerdict, false);
  });

  it("aborts an attempt still waiting for TCP once another connects", async () => {
    let loserAborted = false;
    await race(
      [v6, v4],
      (address, onTcp, signal) => {
        if (address === v6) {
          // An unreachable address: only the abort ends this attempt.
          return new Promise((_, reject) => {
            signal.addEventListener("abort", () => {
              loserAborted = true;
              reject(new Error(ABANDONED));
            });
          });
        }
        return new Promise((resolve) => {
          setTimeout(() => {
            onTcp();
            resolve(fakeSocket("v4", []));
          }, 5);
        });
      },
      null,
      10,
    );
    assert.equal(loserAborted, true);
  });

  it("rejects with the last error when every attempt fails", async () => {
    const error = await race(
      [v6, v4],
      (address) => Promise.reject(new Error(`refused ${address.address}`)),
      null,
      1000,
    ).then(
      () => assert.fail(),
      (e) => e,
    );
    assert.equal(error.message, "refused 192.0.2.1");
  });

  it("reports a TLS failure of the winner as the outcome", async () => {
    const error = await race([v4], (_address, onTcp) => {
      onTcp();
      return Promise.reject(new Error("bad certificate"));
    }, null).then(() => assert.fail(), (e) => e);
    assert.equal(error.message, "bad certificate");
  });
});
