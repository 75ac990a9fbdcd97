// The benchmark's HTTP/1.1 server. It runs under Node in its own process so that it never
// competes with the measured client inside that client's event loop, and it is a raw `node:net`
// server rather than `node:http` so that it does as little work per request as possible and is
// not the bottleneck (bench.ts reports this process's CPU use so that claim can be checked).
//
//   GET /small  -> 200, 13-byte body, keep-alive (prebuilt bytes, several requests per read)
//   GET /big    -> 200, 64 MiB with Content-Length, 64 KiB writes honoring backpressure
//   other       -> 404
//
// Protocol with the parent: the first stdout line is `{"port":N}`; each `stats` line on stdin is
// answered with one JSON line of counters; the server exits when stdin closes (so it cannot
// outlive a parent that crashed) or on SIGTERM. It parses only what the benchmark sends: GET
// requests without bodies. A request with a body is answered 400 and the connection closed.
import net from "node:net";

const SMALL = Buffer.from(
  "HTTP/1.1 200 OK\r\ncontent-length: 13\r\ncontent-type: text/plain\r\n\r\nHello, world!",
  "latin1",
);
const BIG_SIZE = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const BIG_HEAD = Buffer.from(
  `HTTP/1.1 200 OK\r\ncontent-length: ${BIG_SIZE}\r\ncontent-type: application/octet-stream\r\n\r\n`,
  "latin1",
);
const NOT_FOUND = Buffer.from(
  "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
  "latin1",
);
const BAD_REQUEST = Buffer.from(
  "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
  "latin1",
);
// A head larger than this without its terminator is not something the benchmark sends.
const MAX_HEAD = 64 * 1024;
// Only heads that name one of these need a closer look; most requests skip the lowercasing.
const INTERESTING_HEADER = /\r\n(?:content-length|transfer-encoding|connection)[ \t]*:/i;

let accepted = 0;
let open = 0;
let requests = 0;

/** Writes the 64 MiB body in fixed chunks, waiting for 'drain' whenever the kernel buffer is full. */
function streamBig(socket, done) {
  let left = BIG_SIZE;
  socket.write(BIG_HEAD);
  const pump = () => {
    while (left > 0) {
      if (socket.destroyed) return;
      const n = Math.min(CHUNK.length, left);
      left -= n;
      // The same chunk is written again and again: it is never mutated, so sharing is safe and
      // the server allocates nothing per chunk.
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        socket.once("drain", pump);
        return;
      }
    }
    done();
  };
  pump();
}

const server = net.createServer((socket) => {
  accepted++;
  open++;
  socket.setNoDelay(true);
  let pending = null; // bytes received but not yet parsed into a complete request head
  let streaming = false; // a /big response is in flight; later pipelined requests wait for it

  const handle = () => {
    const buf = pending;
    pending = null;
    if (buf === null) return;
    let start = 0;
    let smallCount = 0;
    const flushSmall = () => {
      // Answer a batch of pipelined /small requests with one write (one syscall).
      if (smallCount === 1) socket.write(SMALL);
      else if (smallCount > 1) socket.write(Buffer.concat(Array(smallCount).fill(SMALL)));
      smallCount = 0;
    };
    while (start < buf.length) {
      const end = buf.indexOf("\r\n\r\n", start, "latin1");
      if (end === -1) break;
      const head = buf.toString("latin1", start, end + 2);
      start = end + 4;
      requests++;
      let close = false;
      if (INTERESTING_HEADER.test(head)) {
        const lower = head.toLowerCase();
        if (
          lower.includes("\r\ntransfer-encoding:") ||
          /\r\ncontent-length:[ \t]*0*[1-9]/.test(lower)
        ) {
          flushSmall();
          socket.end(BAD_REQUEST);
          return;
        }
        close = /\r\nconnection:[ \t]*close/.test(lower);
      }
      const sp = head.indexOf(" ");
      const path = head.slice(sp + 1, head.indexOf(" ", sp + 1));
      if (path === "/small") {
        smallCount++;
      } else if (path === "/big") {
        flushSmall();
        streaming = true;
        const rest = start < buf.length ? buf.subarray(start) : null;
        streamBig(socket, () => {
          streaming = false;
          if (close) {
            socket.end();
            return;
          }
          // Requests that arrived during the stream were appended to `pending`; put the ones
          // already in hand in front of them.
          if (rest !== null) pending = pending === null ? rest : Buffer.concat([rest, pending]);
          handle();
        });
        return;
      } else {
        flushSmall();
        socket.write(NOT_FOUND);
      }
      if (close) {
        flushSmall();
        socket.end();
        return;
      }
    }
    flushSmall();
    if (start < buf.length) {
      if (buf.length - start > MAX_HEAD) {
        socket.destroy();
        return;
      }
      pending = buf.subarray(start);
    }
  };

  socket.on("data", (chunk) => {
    pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
    if (!streaming) handle();
  });
  // Clients reset connections when they exit or cancel a body; that is not the server's problem.
  socket.on("error", () => {});
  socket.on("close", () => {
    open--;
  });
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});

let stdinText = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text) => {
  stdinText += text;
  let nl;
  while ((nl = stdinText.indexOf("\n")) !== -1) {
    const command = stdinText.slice(0, nl).trim();
    stdinText = stdinText.slice(nl + 1);
    if (command === "stats") {
      const cpu = process.cpuUsage();
      process.stdout.write(
        `${
          JSON.stringify({ accepted, open, requests, cpuUserUs: cpu.user, cpuSystemUs: cpu.system })
        }\n`,
      );
    }
  }
});
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
