/**
 * Real proxies for the tests: tinyproxy (HTTP and CONNECT, optional BasicAuth), squid (keeps
 * client connections alive, so reuse can be counted) and microsocks (SOCKS5, optional
 * user/password), each started on a free loopback port in a temporary directory and stopped by
 * `close()` (the process we started, by its pid).
 *
 * Every proxy sits behind a counting relay: the URL the client gets is the relay's, so
 * `accepted` counts the client's connections to the proxy, which is what pooling must bound.
 * The packages come from Debian (scripts/ensure_packages.mjs installs them).
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { delay } from "./servers.ts";

/** A running proxy. */
export interface ProxyServer {
  /** `http://127.0.0.1:port` or `socks5://127.0.0.1:port` (no credentials). */
  url: string;
  /** The relay's port (what the client connects to). */
  port: number;
  /** Client connections accepted by the relay in front of the proxy. */
  readonly accepted: number;
  /** Client connections currently open. */
  readonly open: number;
  /** Stops the relay and the proxy. */
  close(): Promise<void>;
}

/** A free loopback port (the daemons take a port number, not 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let exited: string | null = null;
  child.once("exit", (code, signal) => (exited = `exited with ${code ?? signal}`));
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`${name} ${exited} before listening`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    await delay(30);
  }
  throw new Error(`${name} did not listen on port ${port} within 15 s`);
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, 3_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

// A TCP relay that counts connections, in front of the daemon.
async function relay(targetPort: number): Promise<{
  port: number;
  accepted: () => number;
  open: () => number;
  close: () => Promise<void>;
}> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort });
    // A relay must not hold small writes back (Nagle) waiting for an ACK the peer delays.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    open: () => [...sockets].length / 2,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function startDaemon(
  name: string,
  command: string,
  args: (port: number, dir: string) => string[],
  prepare: (port: number, dir: string) => void,
  scheme: string,
  cleanup?: () => void,
): Promise<ProxyServer> {
  const dir = mkdtempSync(join(tmpdir(), `wirefetch-${name}-`));
  const port = await freePort();
  prepare(port, dir);
  // /usr/sbin (squid's home) is not on every PATH.
  const binary = existsSync(`/usr/sbin/${command}`) ? `/usr/sbin/${command}` : command;
  const child = spawn(binary, args(port, dir), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  child.on("error", (error) => (stderr += String(error)));
  try {
    await waitForPort(port, child, name);
  } catch (error) {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}: ${stderr.slice(0, 500)}`);
  }
  const front = await relay(port);
  return {
    url: `${scheme}://127.0.0.1:${front.port}`,
    port: front.port,
    get accepted(): number {
      return front.accepted();
    },
    get open(): number {
      return front.open();
    },
    async close(): Promise<void> {
      await front.close();
      await stop(child);
      cleanup?.();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** tinyproxy on a free port; with `auth`, it requires BasicAuth (407 without, 401 if wrong). */
export function startTinyproxy(auth?: { user: string; password: string }): Promise<ProxyServer> {
  return startDaemon(
    "tinyproxy",
    "tinyproxy",
    (_port, dir) => ["-d", "-c", join(dir, "tinyproxy.conf")],
    (port, dir) => {
      writeFileSync(
        join(dir, "tinyproxy.conf"),
        [
          `Port ${port}`,
          "Listen 127.0.0.1",
          "Timeout 30",
          "MaxClients 50",
          "Allow 127.0.0.1",
          "LogLevel Critical",
          `PidFile "${join(dir, "tinyproxy.pid")}"`,
          // No ConnectPort line: CONNECT is allowed to any port (the test origins' are random).
          ...(auth ? [`BasicAuth ${auth.user} ${auth.password}`] : []),
          "",
        ].join("\n"),
      );
    },
    "http",
  );
}

/** squid on a free port: keeps client connections alive, allows everything from loopback. */
export function startSquid(): Promise<ProxyServer> {
  // Squid names its shared memory segments after the service name (-n): a unique one lets
  // several squids run at once.
  const service = `wfx${process.pid}x${Math.floor(Math.random() * 1e9)}`;
  return startDaemon(
    "squid",
    "squid",
    (_port, dir) => ["-N", "-n", service, "-f", join(dir, "squid.conf")],
    (port, dir) => {
      // Squid drops to the `proxy` user and must still write its log there.
      chmodSync(dir, 0o777);
      writeFileSync(
        join(dir, "squid.conf"),
        [
          `http_port 127.0.0.1:${port}`,
          "http_access allow all",
          "cache deny all",
          `pid_filename ${join(dir, "squid.pid")}`,
          `cache_log ${join(dir, "cache.log")}`,
          "access_log none",
          `coredump_dir ${dir}`,
          "shutdown_lifetime 0 seconds",
          // Squid refuses to run as root; the Debian package creates this user.
          "cache_effective_user proxy",
          "client_persistent_connections on",
          "server_persistent_connections on",
          "",
        ].join("\n"),
      );
    },
    "http",
    () => {
      for (const segment of ["metadata", "queues", "readers"]) {
        rmSync(`/dev/shm/${service}-cf__${segment}.shm`, { force: true });
      }
    },
  );
}

/** microsocks (SOCKS5) on a free port; with `auth`, user/password is required (RFC 1929). */
export function startMicrosocks(auth?: { user: string; password: string }): Promise<ProxyServer> {
  return startDaemon(
    "microsocks",
    "microsocks",
    (port) => [
      "-i",
      "127.0.0.1",
      "-p",
      String(port),
      ...(auth ? ["-u", auth.user, "-P", auth.password] : []),
    ],
    () => {},
    "socks5",
  );
}
