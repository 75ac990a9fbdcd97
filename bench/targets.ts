/**
 * The servers a benchmark run can talk to: its own Node server (bench/server.mjs, which reports
 * connections and CPU), nginx started from bench/nginx.conf, or any URL.
 *
 * A server the benchmark starts inherits its CPU affinity, so `taskset -c 0 deno run -A
 * bench/bench.ts --nginx` pins client and server to one core.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ServerStats, type Target, withTimeout } from "./harness.ts";

/** Bytes of the big body every server serves. */
export const BIG_BYTES = 64 * 1024 * 1024;

/** A child process whose stdout is read line by line. */
class LineChild {
  readonly child: ChildProcess;
  readonly #lines: string[] = [];
  readonly #waiters: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  #buffered = "";
  #exited: Error | null = null;

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (text: string) => {
      this.#buffered += text;
      let nl;
      while ((nl = this.#buffered.indexOf("\n")) !== -1) {
        const line = this.#buffered.slice(0, nl);
        this.#buffered = this.#buffered.slice(nl + 1);
        const waiter = this.#waiters.shift();
        if (waiter !== undefined) waiter.resolve(line);
        else this.#lines.push(line);
      }
    });
    const fail = (error: Error): void => {
      this.#exited ??= error;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    };
    this.child.on("error", (error) => fail(new Error(`${command}: ${error.message}`)));
    this.child.on("exit", (code, signal) => {
      fail(new Error(`${command} exited (code ${code}, signal ${signal})`));
    });
  }

  nextLine(): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#exited !== null) return Promise.reject(this.#exited);
    return withTimeout(
      new Promise((resolve, reject) => this.#waiters.push({ resolve, reject })),
      10_000,
      "server reply",
    );
  }

  stop(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    this.child.kill("SIGTERM");
  }
}

/**
 * The benchmark's own server: bench/server.mjs on Node, in its own process, with counters.
 * "node" from PATH, not the running runtime: every runtime is measured against the same server.
 */
export async function ownServer(): Promise<Target> {
  const script = fileURLToPath(new URL("./server.mjs", import.meta.url));
  const child = new LineChild("node", [script]);
  const { port } = JSON.parse(await child.nextLine()) as { port: number };
  return {
    label: `node bench/server.mjs on 127.0.0.1:${port}`,
    smallUrl: `http://127.0.0.1:${port}/small`,
    bigUrl: `http://127.0.0.1:${port}/big`,
    async stats(): Promise<ServerStats> {
      child.child.stdin!.write("stats\n");
      return JSON.parse(await child.nextLine()) as ServerStats;
    },
    stop: () => child.stop(),
  };
}

/** A free loopback port (nginx cannot listen on port 0 and report it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts on `port`. */
async function waitForListener(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not listen on ${port} within 10 s`);
}

/** nginx from PATH with bench/nginx.conf on a free loopback port, in a temporary prefix. */
export async function nginxServer(): Promise<Target> {
  const root = mkdtempSync(join(tmpdir(), "wirefetch-nginx-"));
  const port = await freePort();
  const template = readFileSync(fileURLToPath(new URL("./nginx.conf", import.meta.url)), "utf8");
  writeFileSync(
    join(root, "nginx.conf"),
    template.replaceAll("@PORT@", String(port)).replaceAll("@ROOT@", root),
  );
  writeFileSync(join(root, "big.bin"), new Uint8Array(BIG_BYTES));
  mkdirSync(join(root, "tmp"));
  const child = spawn("nginx", ["-p", root, "-c", join(root, "nginx.conf"), "-e", "stderr"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const cleanup = (): void => {
    // SIGKILL: the directory goes right after, and a gracefully exiting nginx would complain
    // that its pid file is gone. It runs as one process (master_process off): nothing is left.
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await waitForListener(port, child);
  } catch (error) {
    cleanup();
    throw error;
  }
  return {
    label: `nginx on 127.0.0.1:${port}`,
    smallUrl: `http://127.0.0.1:${port}/small`,
    bigUrl: `http://127.0.0.1:${port}/big`,
    stats: () => Promise.resolve(null),
    stop: cleanup,
  };
}

/** A server that is already running: `url` answers small bodies, `bigUrl` a 64 MiB one. */
export function urlTarget(url: string, bigUrl: string | null): Target {
  return {
    label: url,
    smallUrl: url,
    bigUrl,
    stats: () => Promise.resolve(null),
    stop: () => {},
  };
}
