// Through real proxies the tests start themselves: tinyproxy (HTTP and CONNECT, with and without
// BasicAuth), squid (keeps connections, so pooling is counted on the proxy side) and microsocks
// (SOCKS5, with and without user/password).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Client,
  type ProxyConnectDoneEvent,
  type ProxyConnectStartEvent,
  timingsOf,
  type WirefetchError,
} from "../../mod.ts";
import { fixtures, type HttpServer, startHttpServer } from "../support/servers.ts";
import {
  type ProxyServer,
  startMicrosocks,
  startSquid,
  startTinyproxy,
} from "../support/proxies.ts";

interface Seen {
  url: string;
  proxyAuthorization: string | undefined;
  host: string | undefined;
}

let plain: HttpServer;
let secure: HttpServer;
let secure2: HttpServer;
const seen: Seen[] = [];

function origin(
  tls: boolean,
): (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void {
  return (req, res) => {
    seen.push({
      url: req.url ?? "",
      proxyAuthorization: req.headers["proxy-authorization"],
      host: req.headers.host,
    });
    res.end(`${tls ? "https" : "http"} ${req.url}`);
  };
}

function localhost(url: string): string {
  return url.replace("127.0.0.1", "localhost");
}

async function rejection(
  promise: Promise<unknown>,
): Promise<TypeError & { cause: WirefetchError }> {
  return await promise.then(
    () => assert.fail("expected the fetch to fail"),
    (error) => error,
  );
}

before(async () => {
  plain = await startHttpServer(origin(false));
  secure = await startHttpServer(origin(true), { tls: true });
  secure2 = await startHttpServer(origin(true), { tls: true });
});

after(async () => {
  await Promise.all([plain.close(), secure.close(), secure2.close()]);
});

describe("tinyproxy", () => {
  let open: ProxyServer;
  let auth: ProxyServer;
  before(async () => {
    [open, auth] = await Promise.all([
      startTinyproxy(),
      startTinyproxy({ user: "alice", password: "s3cret" }),
    ]);
  });
  after(async () => {
    await Promise.all([open.close(), auth.close()]);
  });

  it("carries plain http through the proxy and copes with its closing after every response", async () => {
    const client = new Client({ proxy: open.url });
    try {
      const before = open.accepted;
      for (let i = 0; i < 3; i++) {
        const response = await client.fetch(`${plain.url}/plain?i=${i}`);
        assert.equal(await response.text(), `http /plain?i=${i}`);
      }
      // tinyproxy 1.11 closes its client connection after each response: three connections.
      assert.equal(open.accepted - before, 3);
      assert.equal(seen.at(-1)!.host, new URL(plain.url).host);
    } finally {
      await client.close();
    }
  });

  it("sends the URL's credentials to the proxy only, as Proxy-Authorization", async () => {
    const client = new Client({ proxy: auth.url.replace("://", "://alice:s3cret@") });
    try {
      assert.equal(await (await client.fetch(`${plain.url}/auth`)).text(), "http /auth");
      assert.equal(seen.at(-1)!.proxyAuthorization, undefined);
    } finally {
      await client.close();
    }
  });

  it("hands a 407 for plain http to the caller as a response, as native fetch does", async () => {
    const client = new Client({ proxy: auth.url });
    try {
      const response = await client.fetch(`${plain.url}/no-credentials`);
      assert.equal(response.status, 407);
      await response.body?.cancel();
    } finally {
      await client.close();
    }
  });

  it("opens a CONNECT tunnel for https, with Proxy-Authorization on CONNECT and not inside", async () => {
    const client = new Client({
      proxy: auth.url.replace("://", "://alice:s3cret@"),
      tls: { ca: fixtures.ca },
    });
    const events: string[] = [];
    client.addEventListener("proxyconnectstart", (e) => {
      const event = e as ProxyConnectStartEvent;
      events.push(`start ${event.proxy} ${event.hostPort}`);
    });
    client.addEventListener("proxyconnectdone", (e) => {
      const event = e as ProxyConnectDoneEvent;
      events.push(`done ${event.status} ${event.error}`);
    });
    try {
      const url = localhost(secure.url);
      const response = await client.fetch(`${url}/tunnel`);
      assert.equal(await response.text(), "https /tunnel");
      assert.equal(seen.at(-1)!.proxyAuthorization, undefined);
      assert.deepEqual(events, [
        `start ${auth.url} localhost:${secure.port}`,
        "done 200 undefined",
      ]);
      const timings = timingsOf(response)!;
      assert.ok(timings.proxy >= 0 && timings.tls >= 0);
      assert.equal(timings.reused, false);
    } finally {
      await client.close();
    }
  });

  it("names the 407 when the proxy refuses a tunnel without credentials, and 401 for wrong ones", async () => {
    const none = new Client({ proxy: auth.url, tls: { ca: fixtures.ca } });
    const wrong = new Client({
      proxy: auth.url.replace("://", "://alice:wrong@"),
      tls: { ca: fixtures.ca },
    });
    try {
      const error = await rejection(none.fetch(localhost(secure.url)));
      assert.ok(error instanceof TypeError);
      assert.equal(error.cause.code, "ERR_PROXY");
      assert.match(error.cause.message, /^Proxy refused to open a tunnel: 407\b/);
      const bad = await rejection(wrong.fetch(localhost(secure.url)));
      assert.equal(bad.cause.code, "ERR_PROXY");
      assert.match(bad.cause.message, /^Proxy refused to open a tunnel: 401\b/);
    } finally {
      await Promise.all([none.close(), wrong.close()]);
    }
  });
});

describe("squid", () => {
  let squid: ProxyServer;
  before(async () => {
    squid = await startSquid();
  });
  after(async () => {
    await squid.close();
  });

  it("reuses one proxy connection for plain http requests", async () => {
    const client = new Client({ proxy: squid.url });
    try {
      const before = squid.accepted;
      for (let i = 0; i < 5; i++) {
        assert.equal(
          await (await client.fetch(`${plain.url}/squid${i}`)).text(),
          `http /squid${i}`,
        );
      }
      assert.equal(squid.accepted - before, 1);
      assert.equal(client.stats().total.open, 1);
    } finally {
      await client.close();
    }
  });

  it("keeps one tunnel per origin and never hands one origin's tunnel to another", async () => {
    const client = new Client({ proxy: squid.url, tls: { ca: fixtures.ca } });
    try {
      const before = squid.accepted;
      const [a, b] = [localhost(secure.url), localhost(secure2.url)];
      for (let i = 0; i < 3; i++) {
        assert.equal(await (await client.fetch(`${a}/a${i}`)).text(), `https /a${i}`);
        assert.equal(await (await client.fetch(`${b}/b${i}`)).text(), `https /b${i}`);
      }
      assert.equal(squid.accepted - before, 2);
      const routes = Object.keys(client.stats().origins).sort();
      assert.deepEqual(routes, [`${a} via ${squid.url}`, `${b} via ${squid.url}`].sort());
    } finally {
      await client.close();
    }
  });

  it("preconnects a tunnel ahead of time, and the request takes it", async () => {
    const client = new Client({ proxy: squid.url, tls: { ca: fixtures.ca } });
    const events: string[] = [];
    client.addEventListener("proxyconnectdone", (e) => {
      events.push(`proxyconnectdone ${(e as ProxyConnectDoneEvent).status}`);
    });
    try {
      const before = squid.accepted;
      const url = localhost(secure.url);
      await client.preconnect(url);
      assert.equal(client.stats().total.idle, 1);
      assert.equal(await (await client.fetch(`${url}/pre`)).text(), "https /pre");
      assert.equal(squid.accepted - before, 1);
      assert.deepEqual(events, ["proxyconnectdone 200"]);
    } finally {
      await client.close();
    }
  });
});

describe("microsocks (SOCKS5)", () => {
  let socks: ProxyServer;
  let socksAuth: ProxyServer;
  before(async () => {
    [socks, socksAuth] = await Promise.all([
      startMicrosocks(),
      startMicrosocks({ user: "bob", password: "pw" }),
    ]);
  });
  after(async () => {
    await Promise.all([socks.close(), socksAuth.close()]);
  });

  it("tunnels http and https, resolving locally for socks5:// and remotely for socks5h://", async () => {
    for (const scheme of ["socks5", "socks5h"]) {
      const client = new Client({
        proxy: socks.url.replace("socks5", scheme),
        tls: { ca: fixtures.ca },
      });
      const statuses: (number | undefined)[] = [];
      client.addEventListener("proxyconnectdone", (e) => {
        statuses.push((e as ProxyConnectDoneEvent).status);
      });
      try {
        const before = socks.accepted;
        for (let i = 0; i < 2; i++) {
          assert.equal(
            await (await client.fetch(`${localhost(plain.url)}/s${i}`)).text(),
            `http /s${i}`,
          );
          assert.equal(
            await (await client.fetch(`${localhost(secure.url)}/t${i}`)).text(),
            `https /t${i}`,
          );
        }
        // One tunnel per origin, reused.
        assert.equal(socks.accepted - before, 2);
        assert.deepEqual(statuses, [0, 0]);
      } finally {
        await client.close();
      }
    }
  });

  it("authenticates with the URL's user name and password (RFC 1929)", async () => {
    const client = new Client({ proxy: socksAuth.url.replace("://", "://bob:pw@") });
    try {
      assert.equal(await (await client.fetch(`${plain.url}/authed`)).text(), "http /authed");
    } finally {
      await client.close();
    }
  });

  it("fails with ERR_PROXY for a wrong password, and without credentials", async () => {
    const wrong = new Client({ proxy: socksAuth.url.replace("://", "://bob:nope@") });
    const none = new Client({ proxy: socksAuth.url });
    try {
      const bad = await rejection(wrong.fetch(plain.url));
      assert.equal(bad.cause.code, "ERR_PROXY");
      assert.match(bad.cause.message, /authentication failed/);
      const missing = await rejection(none.fetch(plain.url));
      assert.equal(missing.cause.code, "ERR_PROXY");
      assert.match(missing.cause.message, /requires authentication/);
    } finally {
      await Promise.all([wrong.close(), none.close()]);
    }
  });
});
