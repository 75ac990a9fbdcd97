// The proxy environment: which variable applies, NO_PROXY after Go's httpproxy, lowercase over
// uppercase, httpoxy, credentials never following a redirect, and Deno without env permission.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "../../mod.ts";
import { readProxyEnvironment } from "../../src/proxy/environment.ts";
import { NoProxy } from "../../src/proxy/no_proxy.ts";
import { Router } from "../../src/route/route.ts";
import { readRequest, startHttpServer, startRawServer } from "../support/servers.ts";

function env(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

function router(vars: Record<string, string>): Router {
  return new Router(
    { proxy: undefined, unix: undefined, tls: {}, localAddress: undefined, keepAlive: 0 },
    readProxyEnvironment(env(vars)),
  );
}

function proxyOf(r: Router, url: string): string | null {
  return r.route(new URL(url)).proxy?.url ?? null;
}

describe("proxy environment", () => {
  it("uses HTTP_PROXY for http, HTTPS_PROXY for https, ALL_PROXY for either otherwise", () => {
    const r = router({
      HTTP_PROXY: "http://h:1",
      HTTPS_PROXY: "http://s:2",
      ALL_PROXY: "socks5h://a:3",
    });
    assert.equal(proxyOf(r, "http://example.test/"), "http://h:1");
    assert.equal(proxyOf(r, "https://example.test/"), "http://s:2");
    const all = router({ ALL_PROXY: "socks5h://a:3" });
    assert.equal(proxyOf(all, "http://example.test/"), "socks5h://a:3");
    assert.equal(proxyOf(all, "https://example.test/"), "socks5h://a:3");
    assert.equal(proxyOf(router({}), "http://example.test/"), null);
  });

  it("prefers the lowercase variable, treats empty as unset, and reads a bare host:port as http", () => {
    const r = router({ http_proxy: "lower:8080", HTTP_PROXY: "http://upper:1" });
    assert.equal(proxyOf(r, "http://example.test/"), "http://lower:8080");
    const empty = router({ https_proxy: "", HTTPS_PROXY: "http://upper:2" });
    assert.equal(proxyOf(empty, "https://example.test/"), "http://upper:2");
  });

  it("ignores uppercase HTTP_PROXY in a CGI program (httpoxy), as Go does", () => {
    const r = router({ HTTP_PROXY: "http://attacker:1", REQUEST_METHOD: "GET" });
    assert.equal(proxyOf(r, "http://example.test/"), null);
    const lower = router({ http_proxy: "http://ok:1", REQUEST_METHOD: "GET" });
    assert.equal(proxyOf(lower, "http://example.test/"), "http://ok:1");
  });

  it("applies NO_PROXY to environment proxies, and does not exempt loopback by itself", () => {
    const r = router({ HTTP_PROXY: "http://p:1", NO_PROXY: "internal.test,10.0.0.0/8" });
    assert.equal(proxyOf(r, "http://api.internal.test/"), null);
    assert.equal(proxyOf(r, "http://10.2.3.4/"), null);
    assert.equal(proxyOf(r, "http://127.0.0.1/"), "http://p:1");
    assert.equal(proxyOf(r, "http://localhost/"), "http://p:1");
  });

  it("matches NO_PROXY entries as Go's httpproxy does", () => {
    const cases: [string, string, string, boolean][] = [
      ["*", "anything.test", "80", true],
      ["example.com", "example.com", "80", true],
      ["example.com", "a.b.example.com", "443", true],
      ["example.com", "notexample.com", "80", false],
      [".example.com", "example.com", "80", false],
      [".example.com", "www.example.com", "80", true],
      ["*.example.com", "www.example.com", "80", true],
      ["*.example.com", "example.com", "80", false],
      ["example.com:8080", "example.com", "8080", true],
      ["example.com:8080", "example.com", "80", false],
      ["EXAMPLE.com.", "www.example.COM", "80", true],
      ["10.1.2.3", "10.1.2.3", "80", true],
      ["10.1.2.3:81", "10.1.2.3", "80", false],
      ["10.0.0.0/8", "10.200.1.1", "80", true],
      ["10.0.0.0/8", "11.0.0.1", "80", false],
      ["::1", "[::1]", "80", true],
      ["[::1]:8080", "::1", "8080", true],
      ["fd00::/8", "fd12::1", "80", true],
      ["fd00::/8", "fe80::1", "80", false],
      // Prefixes that end inside a byte: the mask covers only the prefix's bits.
      ["172.16.0.0/12", "172.31.255.1", "80", true],
      ["172.16.0.0/12", "172.32.0.1", "80", false],
      ["172.16.0.0/12", "172.15.0.1", "80", false],
      ["fc00::/7", "fdff::1", "80", true],
      ["fc00::/7", "fe00::1", "80", false],
      ["0.0.0.0/0", "203.0.113.9", "80", true],
      ["10.0.0.0/8", "ten.example", "80", false],
      [" a.test , ,b.test ", "b.test", "80", true],
      ["", "example.com", "80", false],
    ];
    for (const [value, host, port, expected] of cases) {
      assert.equal(new NoProxy(value).matches(host, port), expected, `${value} vs ${host}:${port}`);
    }
  });

  it("reads the environment when the client is created, and never sends proxy credentials across a redirect", async () => {
    const direct = await startRawServer(async (socket) => {
      const request = await readRequest(socket);
      socket.end(
        `HTTP/1.1 200 OK\r\ncontent-length: ${request.head.length}\r\n\r\n${request.head}`,
      );
    });
    const proxy = await startRawServer(async (socket) => {
      const request = await readRequest(socket);
      // The proxied origin redirects to the direct one (which NO_PROXY exempts).
      assert.match(request.head, /^GET http:\/\/proxied\.test\/start HTTP\/1\.1\r\n/);
      assert.match(request.head, /\r\nproxy-authorization: Basic /);
      socket.end(
        `HTTP/1.1 302 Found\r\nlocation: ${direct.url}/landed\r\ncontent-length: 0\r\n\r\n`,
      );
    });
    // Only these two variables, whatever the runner's environment holds.
    const names = ["http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"];
    const saved = names.map((name) => process.env[name]);
    for (const name of names) delete process.env[name];
    process.env.HTTP_PROXY = proxy.url.replace("://", "://user:pass@");
    process.env.NO_PROXY = "127.0.0.1";
    let client: Client;
    try {
      client = new Client();
    } finally {
      names.forEach((name, i) => {
        if (saved[i] === undefined) delete process.env[name];
        else process.env[name] = saved[i];
      });
    }
    try {
      const response = await client.fetch("http://proxied.test/start");
      const head = await response.text();
      assert.equal(response.url, `${direct.url}/landed`);
      assert.match(head, /^GET \/landed HTTP\/1\.1\r\n/);
      assert.doesNotMatch(head, /proxy-authorization/i);
      assert.equal(proxy.accepted, 1);
    } finally {
      await client.close();
      await Promise.all([proxy.close(), direct.close()]);
    }
  });

  it("ignores the environment quietly on Deno without env permission", async () => {
    const server = await startHttpServer((_req, res) => res.end("direct"));
    try {
      // From the repository root (every runner's working directory): on Node this file runs
      // compiled from elsewhere, but the child is Deno running the TypeScript sources.
      const deno = join(process.cwd(), "node_modules", ".bin", "deno");
      const mod = pathToFileURL(join(process.cwd(), "mod.ts")).href;
      const script = `import { Client } from ${JSON.stringify(mod)};\n` +
        `const client = new Client();\n` +
        `const response = await client.fetch(${JSON.stringify(server.url)});\n` +
        `console.log(await response.text());\nawait client.close();\n`;
      const dir = mkdtempSync(join(tmpdir(), "wirefetch-env-"));
      const file = join(dir, "no_env_permission.ts");
      writeFileSync(file, script);
      // Asynchronously: the server answering the child runs in this process.
      const child = spawn(
        deno,
        ["run", "--no-prompt", "--no-check", "--allow-net", "--allow-read", file],
        {
          // The proxy would refuse: a request that read it would fail with ERR_PROXY.
          env: { ...process.env, HTTP_PROXY: "http://127.0.0.1:1", DENO_NO_PACKAGE_JSON: "1" },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      const result = { stdout: "", stderr: "" };
      child.stdout!.on("data", (chunk) => (result.stdout += chunk));
      child.stderr!.on("data", (chunk) => (result.stderr += chunk));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      await new Promise((resolve) => child.once("close", resolve));
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      assert.equal(result.stderr.includes("rror"), false, result.stderr);
      assert.equal(result.stdout.trim(), "direct");
    } finally {
      await server.close();
    }
  });
});
