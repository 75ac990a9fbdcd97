// The head cache must be invisible: a parser that has seen earlier responses on its connection
// (whose head cache hits, or takes leading lines from the cached head) reports exactly what a
// fresh parser reports for each response alone. Sequences of responses are generated from a
// fixed seed, most of them repeating the previous head exactly, with a HEAD/GET flip, or with
// one or a few bytes changed anywhere in it (a digit of Content-Length, a status code, a line end, an
// obs-text byte, a colon), pipelined and cut at random points, with maxHeaderSize both ample and
// tight; every head, interim status, body byte and error is compared.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ResponseHead, ResponseParser } from "../../src/h1/response_parser.ts";

/** A small deterministic generator (an LCG), so a failure is reproducible from its seed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x80000000;
  };
}

/** Bytes of a string of code points below 256 (obs-text included), one byte each. */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

interface Message {
  head: Uint8Array;
  body: Uint8Array;
  /** The request was HEAD: the response has no body, whatever its head says. */
  noBody: boolean;
  bytes: Uint8Array;
}

function message(head: Uint8Array, body: Uint8Array, noBody: boolean): Message {
  const bytes = new Uint8Array(head.length + (noBody ? 0 : body.length));
  bytes.set(head);
  if (!noBody) bytes.set(body, head.length);
  return { head, body, noBody, bytes };
}

function generate(rnd: () => number): Message {
  const pick = <T>(items: T[]): T => items[Math.floor(rnd() * items.length)];
  const eol = rnd() < 0.1 ? "\n" : "\r\n";
  const status = pick([
    "HTTP/1.1 200 OK",
    "HTTP/1.1 200 OK",
    "HTTP/1.1 200 Fine",
    "HTTP/1.0 200 OK",
    "HTTP/1.1 204 No Content",
    "HTTP/1.1 304 Not Modified",
    "HTTP/1.1 404 Not Found",
    "HTTP/1.1 200 caf\xe9",
  ]);
  const code = Number(status.slice(9, 12));
  const fields: string[] = [];
  for (
    const field of [
      "Server: nginx",
      `Date: Mon, 30 Nov 2026 06:00:0${pick(["0", "1"])} GMT`,
      `X-Id: ${pick(["1", "22", "333"])}`,
      `Connection: ${pick(["close", "keep-alive", "Keep-Alive"])}`,
      `Keep-Alive: timeout=${pick(["5", "7"])}, max=${pick(["100", "9"])}`,
      "X-Obs: caf\xe9\x93",
      `Set-Cookie: a=${pick(["1", "2"])}`,
      "Content-Type: text/plain",
      "Vary: a",
    ]
  ) {
    if (rnd() < 0.45) fields.push(field);
  }
  if (rnd() < 0.05 && fields.length > 0) fields.splice(1, 0, ` folded ${pick(["x", "y"])}`);
  const text = pick(["hello", "HELLO!", "", "x".repeat(20)]);
  const chunked = rnd() < 0.25;
  const at = Math.floor(rnd() * (fields.length + 1));
  fields.splice(at, 0, chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${text.length}`);
  if (rnd() < 0.03) fields.push(`Content-Length: ${pick(["1", "2"])}`);
  const body = chunked
    ? (text.length > 0 ? `${text.length.toString(16)}\r\n${text}\r\n` : "") + "0\r\n\r\n"
    : text;
  const interim = rnd() < 0.05 ? `HTTP/1.1 100 Continue${eol}${eol}` : "";
  const head = interim + status + eol + fields.map((f) => f + eol).join("") + eol;
  const noBody = rnd() < 0.2;
  return message(latin1(head), latin1(code === 204 || code === 304 ? "" : body), noBody);
}

/** What a parser reported for one response. */
interface Outcome {
  informational: number[];
  head: Omit<ResponseHead, "shared"> | null;
  body: number[];
  error: string | null;
}

function outcome(): Outcome {
  return { informational: [], head: null, body: [], error: null };
}

function parserFor(current: () => Outcome, maxHeaderSize: number): ResponseParser {
  return new ResponseParser({
    onInformational(status) {
      current().informational.push(status);
    },
    onHead(head) {
      const { shared: _, ...rest } = head;
      current().head = { ...rest, headers: [...head.headers] };
    },
    onBody(chunk) {
      current().body.push(...chunk);
    },
  }, maxHeaderSize);
}

function codeOf(error: unknown): string {
  return (error as { code?: string }).code ?? String(error);
}

/** Each message parsed by a parser of its own, in one chunk; null if it is not whole alone. */
function alone(m: Message, maxHeaderSize: number): Outcome | null {
  const result = outcome();
  const parser = parserFor(() => result, maxHeaderSize);
  parser.start(m.noBody);
  try {
    const consumed = parser.execute(m.bytes);
    // A close-delimited body or leftover bytes: not a message a connection could go on after.
    if (!parser.complete || consumed !== m.bytes.length) return null;
  } catch (error) {
    result.error = codeOf(error);
  }
  return result;
}

/** The messages pipelined on one parser, fed in pieces cut at random points. */
function together(messages: Message[], maxHeaderSize: number, rnd: () => number): Outcome[] {
  const total = messages.reduce((n, m) => n + m.bytes.length, 0);
  const all = new Uint8Array(total);
  let offset = 0;
  for (const m of messages) {
    all.set(m.bytes, offset);
    offset += m.bytes.length;
  }
  const results: Outcome[] = [];
  let current = outcome();
  const parser = parserFor(() => current, maxHeaderSize);
  let index = 0;
  parser.start(messages[0].noBody);
  let start = 0;
  while (start < total) {
    const end = Math.min(total, start + 1 + Math.floor(rnd() * (rnd() < 0.5 ? 8 : 400)));
    let chunk = all.subarray(start, end);
    start = end;
    // Half the pieces at an unaligned offset of their buffer (the cache compares words when
    // aligned, bytes otherwise).
    if (rnd() < 0.5) {
      const shifted = new Uint8Array(chunk.length + 3);
      shifted.set(chunk, 3);
      chunk = shifted.subarray(3);
    }
    while (chunk.length > 0) {
      let consumed: number;
      try {
        consumed = parser.execute(chunk);
      } catch (error) {
        current.error = codeOf(error);
        results.push(current);
        return results;
      }
      if (parser.complete) {
        results.push(current);
        current = outcome();
        if (++index === messages.length) return results;
        parser.start(messages[index].noBody);
      }
      chunk = chunk.subarray(consumed);
    }
  }
  return results;
}

function sequence(rnd: () => number): Message[] {
  const messages: Message[] = [];
  const length = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < length; i++) {
    const previous = messages[i - 1];
    if (rnd() < 0.2) {
      // Heads alike up to a line of obs-text, then ids that change from response to response:
      // the leading lines are taken from the cached head, the others decoded.
      const id = (): number => Math.floor(rnd() * 3);
      const head = `HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Obs: caf\xe9\x93\r\n` +
        `X-Ra: ${id()}\r\nX-Rb: ${id()}\r\nX-Rc: ${id()}\r\nContent-Length: 2\r\n\r\n`;
      messages.push(message(latin1(head), latin1("ok"), false));
    } else if (previous === undefined || rnd() < 0.5) {
      messages.push(generate(rnd));
    } else if (rnd() < 0.1) {
      // The same head but for its empty line, CRLF one time and a bare LF the next (RFC 9112
      // §2.2): a byte shorter or longer, the body right after.
      const h = previous.head;
      const crlf = h[h.length - 2] === 0x0d;
      const head = new Uint8Array(h.length + (crlf ? -1 : 1));
      head.set(h.subarray(0, h.length - (crlf ? 2 : 1)));
      head.set(crlf ? [0x0a] : [0x0d, 0x0a], h.length - (crlf ? 2 : 1));
      messages.push(message(head, previous.body, previous.noBody));
    } else if (rnd() < 0.15) {
      // A field line inserted after one of the head's lines (as a proxy adds one): the lines
      // after it sit one index later than in the cached head.
      const h = previous.head;
      const ends: number[] = [];
      for (let k = 0; k < h.length - 2; k++) if (h[k] === 0x0a) ends.push(k + 1);
      const at = ends[Math.floor(rnd() * ends.length)];
      const line = latin1(rnd() < 0.5 ? "Via: 1.1 proxy\r\n" : "Vary: a\r\n");
      const head = new Uint8Array(h.length + line.length);
      head.set(h.subarray(0, at));
      head.set(line, at);
      head.set(h.subarray(at), at + line.length);
      messages.push(message(head, previous.body, previous.noBody));
    } else if (rnd() < 0.4) {
      const noBody = rnd() < 0.15 ? !previous.noBody : previous.noBody;
      messages.push(message(previous.head, previous.body, noBody));
    } else {
      const head = previous.head.slice();
      const bytes = [0x30, 0x31, 0x39, 0x61, 0x0a, 0x20, 0xe9, 0x93, 0x3a];
      // One byte, or several (each line they hit is a string the cache cannot give).
      for (let n = rnd() < 0.5 ? 1 : 4; n > 0; n--) {
        // Now and then in the last bytes, past the last whole 32-bit word the cache compares.
        const at = rnd() < 0.2 ? head.length - 1 - Math.floor(rnd() * 4) : rnd() * head.length;
        head[Math.floor(at)] = bytes[Math.floor(rnd() * bytes.length)];
      }
      messages.push(message(head, previous.body, previous.noBody));
    }
  }
  return messages;
}

describe("ResponseParser head cache, against a fresh parser per response", () => {
  for (const maxHeaderSize of [8192, 180, 120]) {
    it(`reports the same heads, bodies and errors (maxHeaderSize ${maxHeaderSize})`, () => {
      const rnd = random(maxHeaderSize);
      let compared = 0;
      for (let run = 0; run < 700; run++) {
        const messages = sequence(rnd);
        const got = together(messages, maxHeaderSize, rnd);
        for (let i = 0; i < messages.length; i++) {
          const expected = alone(messages[i], maxHeaderSize);
          if (expected === null) break;
          assert.deepEqual(got[i], expected, `run ${run}, response ${i}`);
          compared++;
          // After an error or a response that ends with its connection, nothing follows.
          if (expected.error !== null || expected.head?.framing === "close") break;
        }
      }
      assert.ok(compared > 1000, `compared ${compared} responses`);
    });
  }
});
