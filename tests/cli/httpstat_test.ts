// The httpstat command, run as a real subprocess on the runtime running the tests.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startHttpServer } from "../support/servers.ts";

// The escape character, built at run time so the patterns below hold no control character.
const ESC = String.fromCharCode(27) + "[";
// Under Node this file runs compiled to JavaScript (scripts/test_node.mjs), next to the npm
// build's httpstat.js.
const compiled = import.meta.url.endsWith(".js");
// TCP_INFO is read through FFI, which Node does not have: there httpstat says it is unavailable.
const hasFfi = "Bun" in globalThis || "Deno" in globalThis;
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
      if (hasFfi) assert.match(run.stdout, /TCP ESTABLISHED: rtt \d+\.\d+ ms/);
      else assert.match(run.stdout, /^TCP_INFO unavailable: .*FFI/m);
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
      if (hasFfi) {
        assert.equal(report.tcpInfo.state, "ESTABLISHED");
        assert.ok(report.tcpInfo.rtt > 0);
      } else {
        assert.equal(report.tcpInfo, null);
        assert.match(report.tcpInfoUnavailable, /FFI/);
      }
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
});
