// Forgotten bodies never starve the pool: while requests queue at the cap, connections paused on
// bodies nobody reads are drained into memory within the client's budget, or detached from the
// cap when a body does not fit.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type BodyReclaimEvent, Client, type ClientOptions } from "../../mod.ts";
import { startHttpServer } from "../support/servers.ts";
import { withDeadline } from "../support/deadline.ts";

const MiB = 1024 * 1024;

function body(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + seed) & 0xff;
  return bytes;
}

/** A server answering `/N` with body(size, N), chunked when `chunked`. */
function server(size: number, chunked = false) {
  return startHttpServer((req, res) => {
    const seed = Number(req.url!.slice(1));
    if (chunked) {
      // write() before end(): node:http then frames it chunked, with no Content-Length.
      res.write(body(size, seed));
      res.end();
    } else {
      res.setHeader("content-length", size);
      res.end(body(size, seed));
    }
  });
}

async function run(
  size: number,
  count: number,
  options: ClientOptions,
  chunked = false,
): Promise<{ accepted: number; actions: string[]; responses: Response[]; client: Client }> {
  const srv = await server(size, chunked);
  const client = new Client({ maxConnectionsPerHost: 2, queueTimeout: 8000, ...options });
  const actions: string[] = [];
  client.addEventListener("bodyreclaim", (e) => {
    const event = e as BodyReclaimEvent;
    actions.push(event.action);
    // Memory drained into unread bodies stays within the budget, give or take one socket read
    // (Bun's reads reach 1 MiB).
    assert.ok(event.budgetUsed <= event.budget + MiB, `${event.budgetUsed} bytes drained`);
  });
  try {
    const responses: Response[] = [];
    for (let i = 0; i < count; i++) {
      // Nobody reads these bodies (yet): each connection pauses on its stream's full queue.
      responses.push(await withDeadline(client.fetch(`${srv.url}/${i}`)));
    }
    // Every body is intact, drained or not.
    for (let i = 0; i < count; i++) {
      const bytes = new Uint8Array(await withDeadline(responses[i].arrayBuffer()));
      assert.deepEqual(bytes, body(size, i), `body ${i}`);
    }
    return { accepted: srv.accepted, actions, responses, client };
  } finally {
    await withDeadline(client.close({ timeout: 2000 }));
    await srv.close();
  }
}

describe("forgotten bodies under a queue", () => {
  it("drains unread bodies within the budget and reuses their connections", async () => {
    const { accepted, actions } = await run(MiB, 6, { drainDelay: 5 });
    assert.equal(accepted, 2);
    assert.ok(actions.length >= 4 && actions.every((a) => a === "drain"), String(actions));
  });

  it("detaches a connection whose body does not fit the budget, and dials instead", async () => {
    const { accepted, actions } = await run(MiB, 4, { drainDelay: 5, drainBudget: 64 * 1024 });
    assert.equal(accepted, 4);
    assert.deepEqual(actions, ["detach", "detach"]);
  });

  it("detaches a chunked body that outgrows the budget while it drains", async () => {
    const { accepted, actions } = await run(4 * MiB, 3, {
      drainDelay: 5,
      drainBudget: 512 * 1024,
    }, true);
    assert.equal(accepted, 3);
    assert.deepEqual(actions, ["drain", "detach"]);
  });

  it("never drains with a zero budget", async () => {
    const { accepted, actions } = await run(MiB, 3, { drainDelay: 5, drainBudget: 0 });
    assert.equal(accepted, 3);
    assert.deepEqual(actions, ["detach"]);
  });
});
