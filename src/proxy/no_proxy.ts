/**
 * `NO_PROXY` matching, after Go's `golang.org/x/net/http/httpproxy`: comma-separated entries,
 * each an IP address, a CIDR range, a domain name, or `*`; IP addresses and domains may carry a
 * port.
 *
 * - `*` alone: no request uses the proxy.
 * - `example.com` matches `example.com` and every subdomain (`a.example.com`).
 * - `.example.com` (or `*.example.com`) matches subdomains only, not `example.com` itself.
 * - `10.1.2.3`, `::1`, `[::1]` match that address; `10.0.0.0/8`, `fd00::/8` match a range. They
 *   match URLs whose host is an IP literal: names are never resolved to decide.
 * - `example.com:8080`, `10.1.2.3:8080`, `[::1]:8080` match only that port.
 * - Matching ignores case and a trailing dot. Empty entries are ignored.
 *
 * Unlike Go, `localhost` and loopback addresses are not exempt by themselves: Deno's, Bun's and
 * Node's own fetch send them to the proxy too unless `NO_PROXY` lists them.
 *
 * @module
 */

/** An IP address as 4 or 16 bytes, or null if `text` is not an IP literal. */
export function parseIp(text: string): Uint8Array | null {
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split(".").map(Number);
    if (parts.some((p) => p > 255)) return null;
    return new Uint8Array(parts);
  }
  if (!text.includes(":") || !/^[0-9a-fA-F:.]+$/.test(text)) return null;
  let tail: number[] = [];
  const v4 = /:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (v4 !== null) {
    const bytes = parseIp(v4[1]);
    if (bytes === null) return null;
    tail = [...bytes];
    text = text.slice(0, v4.index + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): string[] => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return null;
    const value = parseInt(all[i], 16);
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  }
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

interface Entry {
  readonly kind: "ip" | "cidr" | "domain" | "suffix";
  readonly ip?: Uint8Array;
  readonly bits?: number;
  readonly domain?: string;
  readonly port: string;
}

function inRange(ip: Uint8Array, network: Uint8Array, bits: number): boolean {
  if (ip.length !== network.length) return false;
  for (let i = 0; i < ip.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i] & mask) !== (network[i] & mask)) return false;
  }
  return true;
}

function sameIp(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function splitPort(entry: string): [string, string] {
  // "[::1]:80", "host:80", "1.2.3.4:80"; a bare IPv6 address has colons but no port.
  if (entry.startsWith("[")) {
    const close = entry.indexOf("]");
    const port = entry.slice(close + 1);
    return [entry.slice(1, close), port.startsWith(":") ? port.slice(1) : ""];
  }
  const colon = entry.lastIndexOf(":");
  if (colon > 0 && entry.indexOf(":") === colon && /^\d+$/.test(entry.slice(colon + 1))) {
    return [entry.slice(0, colon), entry.slice(colon + 1)];
  }
  return [entry, ""];
}

/**
 * A parsed `NO_PROXY` value.
 *
 * @example
 * ```ts
 * import { NoProxy } from "./no_proxy.ts";
 * const noProxy = new NoProxy("internal.example, 10.0.0.0/8, .svc:8080");
 * console.log(noProxy.matches("api.internal.example", "443")); // true
 * ```
 */
export class NoProxy {
  readonly #all: boolean;
  readonly #entries: Entry[] = [];

  /** Parses `value` (null or "" match nothing). */
  constructor(value: string | null) {
    let all = false;
    for (let raw of (value ?? "").split(",")) {
      raw = raw.trim().toLowerCase();
      if (raw === "") continue;
      if (raw === "*") {
        all = true;
        continue;
      }
      const slash = raw.indexOf("/");
      if (slash > 0) {
        const network = parseIp(raw.slice(0, slash));
        const bits = Number(raw.slice(slash + 1));
        if (network !== null && Number.isInteger(bits) && bits >= 0 && bits <= network.length * 8) {
          this.#entries.push({ kind: "cidr", ip: network, bits, port: "" });
        }
        continue;
      }
      const whole = parseIp(raw);
      if (whole !== null) {
        this.#entries.push({ kind: "ip", ip: whole, port: "" });
        continue;
      }
      const [host, port] = splitPort(raw);
      const ip = parseIp(host);
      if (ip !== null) {
        this.#entries.push({ kind: "ip", ip, port });
        continue;
      }
      let domain = host.endsWith(".") ? host.slice(0, -1) : host;
      if (domain.startsWith("*.")) domain = domain.slice(1);
      if (domain.startsWith(".")) this.#entries.push({ kind: "suffix", domain, port });
      else if (domain !== "") this.#entries.push({ kind: "domain", domain, port });
    }
    this.#all = all;
  }

  /** True when NO_PROXY names nothing. */
  get empty(): boolean {
    return !this.#all && this.#entries.length === 0;
  }

  /**
   * Whether a request to `host` (a URL's hostname, IPv6 with or without brackets) and `port`
   * (the effective port, as text) must bypass the proxy.
   */
  matches(host: string, port: string): boolean {
    if (this.#all) return true;
    const name = (host.endsWith(".") ? host.slice(0, -1) : host).toLowerCase();
    const ip = parseIp(name);
    for (const entry of this.#entries) {
      if (entry.port !== "" && entry.port !== port) continue;
      switch (entry.kind) {
        case "cidr":
          if (ip !== null && inRange(ip, entry.ip!, entry.bits!)) return true;
          break;
        case "ip":
          if (ip !== null && sameIp(ip, entry.ip!)) return true;
          break;
        case "domain":
          if (ip === null && (name === entry.domain || name.endsWith("." + entry.domain))) {
            return true;
          }
          break;
        case "suffix":
          if (ip === null && name.endsWith(entry.domain!)) return true;
          break;
      }
    }
    return false;
  }
}
