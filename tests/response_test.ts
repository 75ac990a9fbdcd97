// A fetched response whose body arrived whole behaves as the runtime's own Response with that
// body: on Node its bytes are held beside a null-body Response (HeldFetchResponse in
// src/response.ts), so every way of reading the body is checked against a native Response side by
// side, on every runtime.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ResponseHead } from "../src/h1/response_parser.ts";
import { makeResponse } from "../src/response.ts";

const encoder = new TextEncoder();

// What the parser gives makeResponse for a whole response.
function fetched(bytes: Uint8Array<ArrayBuffer>): Response {
  const head = {
    status: 200,
    statusText: "OK",
    headers: ["content-type", "application/json"],
  } as unknown as ResponseHead;
  return makeResponse(head, bytes, "http://example.test/", false, null, false);
}

function native(bytes: Uint8Array<ArrayBuffer>): Response {
  return new Response(bytes.slice(), { headers: { "content-type": "application/json" } });
}

async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    return `rejected: ${(error as Error).constructor.name}`;
  }
}

type Scenario = (response: Response) => Promise<unknown>;

const scenarios: Record<string, Scenario> = {
  "bodyUsed before and after text()": async (r) => [r.bodyUsed, await r.text(), r.bodyUsed],
  "a second text() rejects": async (r) => [await r.text(), await outcome(() => r.text())],
  "body is the same stream on every read, unlocked and unused": (r) =>
    Promise.resolve([r.body === r.body, r.body!.locked, r.bodyUsed]),
  "body after text() is locked and used": async (r) => {
    await r.text();
    return [r.body !== null, r.body!.locked, r.bodyUsed];
  },
  "a read from body makes it used; text() then rejects": async (r) => {
    const reader = r.body!.getReader();
    const chunk = await reader.read();
    reader.releaseLock();
    return [chunk.value!.length, r.bodyUsed, await outcome(() => r.text())];
  },
  "a locked, unread body is not used, but text() rejects": async (r) => {
    r.body!.getReader();
    return [r.bodyUsed, await outcome(() => r.text())];
  },
  "text() after body was looked at": async (r) => {
    void r.body;
    return [await r.text(), r.bodyUsed, r.body!.locked];
  },
  "clone(): both read": async (r) => {
    const copy = r.clone();
    return [await r.text(), await copy.json(), r.bodyUsed, copy.bodyUsed];
  },
  "clone() after text() throws": async (r) => {
    await r.text();
    return await outcome(() => Promise.resolve(r.clone()));
  },
  "clone() after body was looked at": async (r) => {
    void r.body;
    const copy = r.clone();
    return [await r.text(), await copy.text()];
  },
  "blob() takes the Content-Type": async (r) => {
    const blob = await r.blob();
    return [blob.type, blob.size, await blob.text()];
  },
  "arrayBuffer() is a fresh ArrayBuffer of the body": async (r) => {
    const buffer = await r.arrayBuffer();
    return [buffer instanceof ArrayBuffer, buffer.byteLength, new Uint8Array(buffer)[0]];
  },
  "cancelling body makes it used": async (r) => {
    await r.body!.cancel();
    return [r.bodyUsed, await outcome(() => r.text())];
  },
  "a BYOB reader reads the body": async (r) => {
    const reader = r.body!.getReader({ mode: "byob" });
    const chunk = await reader.read(new Uint8Array(100));
    return [chunk.value!.length, r.bodyUsed];
  },
  "for await over body": async (r) => {
    let length = 0;
    for await (const chunk of r.body!) length += chunk.length;
    return [length, r.bodyUsed];
  },
  "body passed to a new Response": (r) => new Response(r.body).text(),
  "formData() of a JSON body rejects": (r) => outcome(() => r.formData()),
};

describe("a fetched response's whole body reads as a native Response's", () => {
  for (const [name, scenario] of Object.entries(scenarios)) {
    it(name, async () => {
      const body = encoder.encode('{"a":1}');
      const expected = await outcome(() => scenario(native(body)));
      const actual = await outcome(() => scenario(fetched(body)));
      assert.deepEqual(actual, expected);
      // The bytes handed to the response are never written into.
      assert.deepEqual(body, encoder.encode('{"a":1}'));
    });
  }

  it("text() strips a UTF-8 BOM and replaces invalid bytes; bad JSON is a SyntaxError", async () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, 0x41, 0xff]);
    assert.equal(await fetched(bytes).text(), await native(bytes).text());
    const bad = encoder.encode("{");
    assert.equal(
      await outcome(() => fetched(bad).json()),
      await outcome(() => native(bad).json()),
    );
  });

  it("an empty body is a stream that ends with no bytes", async () => {
    const empty = fetched(new Uint8Array(0));
    assert.notEqual(empty.body, null);
    // Deno's own Response hands out one empty chunk first; either way nothing but the end comes.
    let length = 0;
    for await (const chunk of empty.body!) length += chunk.length;
    assert.equal(length, 0);
    assert.equal(empty.bodyUsed, true);
    assert.equal(await fetched(new Uint8Array(0)).text(), "");
  });
});
