// The httpstat command, run as a real subprocess on the runtime running the tests.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startHttpServer } from "../support/servers.ts";
import { assertValidHar } from "../har/helpers.ts";

// The escape character, built at run time so the patterns below hold no control character.
const ESC = String.fromCharCode(27) + "[";
// Under Node this file runs compiled to JavaScript (scripts/test_node.mjs), next to the npm
// build's httpstat.js.
const compiled = import.meta.url.endsWith(".js");
const entry = fileURLToPath(
  new URL(compiled ? "../../httpstat.js" : "../../httpstat.ts", import.meta.url),
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function httpstat(args: string[], env: Record<string, string> = {}): Promise<Run> {
  // Deno needs `run -A`; Bun and Node run a file given alone.
  const isDeno = "Deno" in globalThis && !("Bun" in globalThis);
  const argv = isDeno ? ["run", "-A", entry, ...args] : [entry, ...args];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      argv,
      { timeout: 30_000, env: { ...process.env, NO_COLOR: "1", ...env } },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("httpstat", () => {
  it("prints the connection, the response head, the waterfall and TCP_INFO", async () => {
    const server = await startHttpServer((_req, res) => {
      res.setHeader("x-served-by", "test");
      res.end("hello");
    });
    try {
      const run = await httpstat([server.url]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        new RegExp(`Connected to 127\\.0\\.0\\.1:${server.port} from 127\\.0\\.0\\.1:\\d+`),
      );
      assert.match(run.stdout, /^HTTP\/1\.1 200 OK$/m);
      assert.match(run.stdout, /^x-served-by: test$/m);
      for (
        const phase of [
          "DNS Lookup",
          "TCP Connection",
          "TLS Handshake",
          "Server Processing",
          "Content Transfer",
        ]
      ) {
        assert.ok(run.stdout.includes(phase), phase);
      }
      for (const mark of ["namelookup:", "connect:", "pretransfer:", "starttransfer:", "total:"]) {
        assert.ok(run.stdout.includes(mark), mark);
      }
      // On every runtime: Deno and Bun through their FFI, Node through koffi.
      assert.match(run.stdout, /^TCP ESTABLISHED: rtt \d+\.\d+ ms/m);
      assert.ok(!run.stdout.includes(ESC), "NO_COLOR means no escapes");
    } finally {
      await server.close();
    }
  });

  it("prints one JSON object with timings, TCP info and response metadata", async () => {
    const server = await startHttpServer((_req, res) => res.end("json"));
    try {
      const run = await httpstat(["--json", server.url]);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout);
      assert.equal(report.status, 200);
      assert.equal(report.bodyBytes, 4);
      assert.equal(report.connected.remote, `127.0.0.1:${server.port}`);
      for (const key of ["dns", "connect", "tls", "ttfb", "transfer", "total"]) {
        assert.equal(typeof report.timings[key], "number", key);
      }
      assert.equal(report.tcpInfo.state, "ESTABLISHED");
      assert.ok(report.tcpInfo.rtt > 0);
      assert.equal(report.tcpInfoUnavailable, null);
      // The kernel's bytes as one hex string, not an object of numbered keys.
      assert.equal(typeof report.tcpInfo.raw, "string");
      assert.match(report.tcpInfo.raw, /^([0-9a-f]{2})+$/);
      assert.equal(report.tcpInfo.raw.length, 2 * report.tcpInfo.length);
      assert.ok(!/"0":/.test(run.stdout));
      assert.deepEqual(report.warnings, []);
    } finally {
      await server.close();
    }
  });

  it("makes N requests over one pooled client with -n, later ones without dial phases", async () => {
    const server = await startHttpServer((_req, res) => res.end("n"));
    try {
      const run = await httpstat([
        "--json",
        "-n",
        "3",
        server.url.replace("127.0.0.1", "localhost"),
      ]);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout);
      assert.equal(report.requests.length, 3);
      assert.deepEqual(report.requests.map((r: { reused: boolean }) => r.reused), [
        false,
        true,
        true,
      ]);
      assert.ok(report.requests[0].events.includes("dnsstart"));
      assert.ok(report.requests[0].events.includes("connectstart"));
      for (const later of report.requests.slice(1)) {
        assert.ok(!later.events.includes("dnsstart"));
        assert.ok(!later.events.includes("connectstart"));
        assert.equal(later.timings.connect, 0);
      }
      assert.equal(server.accepted, 1);
      const text = await httpstat(["-n", "2", server.url]);
      assert.match(text.stdout, /#2 conn \d+ reused/);
    } finally {
      await server.close();
    }
  });

  it("exits with 4 when an SLO is violated", async () => {
    const server = await startHttpServer((_req, res) => setTimeout(() => res.end("slow"), 30));
    try {
      const run = await httpstat(["--slo", "ttfb=1,total=100000", server.url]);
      assert.equal(run.code, 4);
      assert.match(run.stderr, /SLO violated: ttfb \d+ms > 1ms/);
      const ok = await httpstat(["--slo", "total=100000", server.url]);
      assert.equal(ok.code, 0);
    } finally {
      await server.close();
    }
  });

  it("sends -X, -H and -d, follows redirects with -L and saves the body with -o", async () => {
    const server = await startHttpServer((req, res) => {
      if (req.url === "/start") {
        res.statusCode = 307;
        res.setHeader("location", "/echo");
        res.end();
        return;
      }
      let body = "";
      req.on("data", (c) => (body += c));
      req.on(
        "end",
        () => res.end(`${req.method} ${req.headers["x-a"]} ${req.headers["x-b"]} ${body}`),
      );
    });
    try {
      const file = join(mkdtempSync(join(tmpdir(), "httpstat-")), "body.txt");
      const run = await httpstat([
        "-X",
        "PUT",
        "-H",
        "x-a: 1",
        "-H",
        "x-b: 2",
        "-d",
        "payload",
        "-L",
        "-o",
        file,
        `${server.url}/start`,
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(readFileSync(file, "utf8"), "PUT 1 2 payload");
      const manual = await httpstat(["--json", `${server.url}/start`]);
      assert.equal(JSON.parse(manual.stdout).status, 307);
    } finally {
      await server.close();
    }
  });

  it("measures an embedded demo server when no URL is given", async () => {
    const run = await httpstat([]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /embedded demo server/);
    assert.match(run.stdout, /HTTP\/1\.1 200 OK/);
  });

  it("colours output unless NO_COLOR is set", async () => {
    const server = await startHttpServer((_req, res) => res.end("c"));
    try {
      const colored = await httpstat([server.url], { NO_COLOR: "", FORCE_COLOR: "1" });
      assert.ok(colored.stdout.includes(ESC));
      const plain = await httpstat([server.url], { NO_COLOR: "1", FORCE_COLOR: "1" });
      assert.ok(!plain.stdout.includes(ESC));
    } finally {
      await server.close();
    }
  });

  it("fails with exit code 2 on bad arguments and 1 on a failed request", async () => {
    const bad = await httpstat(["--nope"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown option --nope/);
    const refused = await httpstat(["http://127.0.0.1:1/"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ERR_CONNECTION_REFUSED/);
  });

  it("prints every trace event on a timeline with --trace", async () => {
    const server = await startHttpServer((_req, res) => res.end("trace"));
    try {
      const run = await httpstat(["--trace", server.url.replace("127.0.0.1", "localhost")]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^Trace of request #1 \(ms from its start\):$/m);
      const line = (type: string, rest = ""): RegExp =>
        new RegExp(`^\\+ +\\d+\\.\\d{3} ms  ${type} +${rest}`, "m");
      assert.match(run.stdout, line("getconn", `hostPort=localhost:${server.port}`));
      assert.match(run.stdout, line("dnsstart", "host=localhost"));
      assert.match(run.stdout, line("dnsdone", "addresses=\\["));
      assert.match(run.stdout, line("connectstart", "network=tcp"));
      assert.match(run.stdout, line("gotconn", "#\\d+ +reused=false"));
      assert.match(run.stdout, line("wroteheaderfield", "#\\d+ +name=host value=localhost"));
      assert.match(run.stdout, line("wroterequest"));
      assert.match(run.stdout, line("gotfirstresponsebyte"));
      assert.match(run.stdout, line("responsedone", "#\\d+ +bytes=5 timings=\\{total"));
      // In time order: each line's offset is at least the one before.
      const times = [...run.stdout.matchAll(/^\+ +(\d+\.\d{3}) ms/gm)].map((m) => Number(m[1]));
      assert.ok(times.length >= 10, `${times.length} lines`);
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
      // The waterfall still follows.
      assert.match(run.stdout, /^HTTP\/1\.1 200 OK$/m);
    } finally {
      await server.close();
    }
  });

  it("writes a HAR 1.2 file with one entry per request with --har and -n 3", async () => {
    const server = await startHttpServer((_req, res) => res.end("har"));
    try {
      const file = join(mkdtempSync(join(tmpdir(), "httpstat-")), "run.har");
      const run = await httpstat(["--har", file, "-n", "3", server.url]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /HAR written to /);
      const har = JSON.parse(readFileSync(file, "utf8"));
      assertValidHar(har);
      assert.equal(har.log.entries.length, 3);
      const connections = har.log.entries.map((e: { connection: string }) => e.connection);
      assert.equal(new Set(connections).size, 1);
      assert.equal(har.log.entries[1].timings.connect, -1);
      assert.equal(har.log.entries[0].response.status, 200);
      // A failed run writes its HAR too.
      const failed = join(mkdtempSync(join(tmpdir(), "httpstat-")), "failed.har");
      const refused = await httpstat(["--har", failed, "http://127.0.0.1:1/"]);
      assert.equal(refused.code, 1);
      const failedHar = JSON.parse(readFileSync(failed, "utf8"));
      assertValidHar(failedHar);
      assert.equal(failedHar.log.entries[0].response.status, 0);
    } finally {
      await server.close();
    }
  });

  it("draws a progress bar for -o FILE on a terminal, and none otherwise", async () => {
    const size = 256 * 1024;
    const server = await startHttpServer((req, res) => {
      // With a length for /known, chunked for /unknown.
      if (req.url === "/known") res.setHeader("content-length", size);
      let sent = 0;
      const chunk = new Uint8Array(16 * 1024).fill(97);
      const pump = (): void => {
        if (sent >= size) return void res.end();
        sent += chunk.length;
        res.write(chunk);
        setTimeout(pump, 5);
      };
      pump();
    });
    try {
      const dir = mkdtempSync(join(tmpdir(), "httpstat-"));
      // HTTPSTAT_PROGRESS=1 stands for "stderr is a terminal" (here it is a pipe).
      const bar = await httpstat(["-o", join(dir, "a"), `${server.url}/known`], {
        HTTPSTAT_PROGRESS: "1",
      });
      assert.equal(bar.code, 0, bar.stderr);
      assert.equal(readFileSync(join(dir, "a")).length, size);
      const frames = bar.stderr.split("\r").filter((f) => f.trim() !== "");
      assert.ok(frames.length >= 1, JSON.stringify(bar.stderr));
      const final = frames.at(-1)!.trimEnd();
      assert.match(final, /^\[=+\] 100% {2}256\.0 KiB \/ 256\.0 KiB {2}\S+ \S+\/s {2}ETA 0:00$/);
      assert.ok(bar.stderr.endsWith("\n"));
      const unknown = await httpstat(["-o", join(dir, "b"), `${server.url}/unknown`], {
        HTTPSTAT_PROGRESS: "1",
      });
      assert.equal(unknown.code, 0, unknown.stderr);
      const last = unknown.stderr.split("\r").filter((f) => f.trim() !== "").at(-1)!.trimEnd();
      assert.match(last, /^256\.0 KiB {2}\S+ \S+\/s$/);
      // Not a terminal: no bar at all.
      const plain = await httpstat(["-o", join(dir, "c"), `${server.url}/known`]);
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(plain.stderr, "");
      assert.equal(readFileSync(join(dir, "c")).length, size);
    } finally {
      await server.close();
    }
  });
});
