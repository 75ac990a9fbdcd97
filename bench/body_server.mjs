// The server of the body benchmarks (bench/body_bench.ts), in its own Node process like
// bench/server.mjs, a raw node:net server like it:
//
//   GET /gzip, /br    -> 64 MiB of text-like bytes, gzip- or br-coded (prebuilt), Content-Length
//   GET /identity     -> the same 64 MiB uncoded
//   GET /tiny         -> 570,000 one-byte chunks (chunked), about 3.4 MB on the wire
//   GET /unread/N     -> N bytes with Content-Length
//
// The first stdout line is `{"port":N}`; the server exits when stdin closes or on SIGTERM.
import net from "node:net";
import zlib from "node:zlib";

const SIZE = 64 * 1024 * 1024;
const TINY_CHUNKS = 570_000;

// Text-like content: words from a small vocabulary and numbers, about 3:1 under gzip, so the
// decoders work as on real responses (a run of one byte would measure almost nothing). 8 MiB
// of it repeated: farther apart than gzip's 32 KiB and brotli's 4 MiB windows reach.
function textLike(size) {
  const words = ["alpha", "beta", "gamma", "delta", "wirefetch", "stream", "chunk", "body"];
  const unique = Buffer.alloc(8 * 1024 * 1024);
  let x = 2463534242;
  let i = 0;
  while (i < unique.length) {
    // xorshift32: its low bits are as random as its high bits, unlike a power-of-two LCG's.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const word = x % 3 === 0 ? String(x % 100000) : words[(x >>> 8) % words.length];
    i += unique.write(word + ((x & 15) === 0 ? "\n" : " "), i, "latin1");
  }
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; at += unique.length) unique.copy(out, at);
  return out;
}

const identity = textLike(SIZE);
const gzip = zlib.gzipSync(identity, { level: 1 });
const br = zlib.brotliCompressSync(identity, {
  params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 },
});
const tiny = Buffer.from("1\r\nx\r\n".repeat(TINY_CHUNKS) + "0\r\n\r\n", "latin1");
const pieces = new Map();
const NOT_FOUND = Buffer.from("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", "latin1");

function head(length, coding) {
  return Buffer.from(
    `HTTP/1.1 200 OK\r\ncontent-length: ${length}\r\n` +
      (coding ? `content-encoding: ${coding}\r\n` : "") + "\r\n",
    "latin1",
  );
}

function respond(socket, path) {
  if (path === "/gzip") return void socket.write(Buffer.concat([head(gzip.length, "gzip"), gzip]));
  if (path === "/br") return void socket.write(Buffer.concat([head(br.length, "br"), br]));
  if (path === "/identity") {
    socket.write(head(identity.length));
    return void socket.write(identity);
  }
  if (path === "/tiny") {
    socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    return void socket.write(tiny);
  }
  if (path.startsWith("/unread/")) {
    const n = Number(path.slice(8));
    let bytes = pieces.get(n);
    if (bytes === undefined) {
      pieces.set(n, bytes = Buffer.concat([head(n), Buffer.alloc(n, 0x61)]));
    }
    return void socket.write(bytes);
  }
  socket.write(NOT_FOUND);
}

// A raw node:net server (GET requests only, no bodies), so it does little work per request.
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let pending = "";
  socket.on("data", (chunk) => {
    pending += chunk.toString("latin1");
    let end;
    while ((end = pending.indexOf("\r\n\r\n")) !== -1) {
      const line = pending.slice(0, pending.indexOf("\r\n"));
      pending = pending.slice(end + 4);
      respond(socket, line.split(" ")[1]);
    }
  });
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(
    `${
      JSON.stringify({
        port: server.address().port,
        gzipBytes: gzip.length,
        brBytes: br.length,
      })
    }\n`,
  );
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
