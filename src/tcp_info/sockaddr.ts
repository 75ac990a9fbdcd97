/**
 * IP addresses as text and as `struct sockaddr` bytes, reduced to one comparable key, so a socket
 * object's addresses can be matched against what `getsockname`/`getpeername` return for a file
 * descriptor. Pure.
 *
 * The key of an endpoint is its address as 16 bytes of hex (IPv4 as the IPv4-mapped IPv6 address
 * `::ffff:a.b.c.d`, because a dual-stack socket reports an IPv4 peer that way while the runtime
 * may print it as plain IPv4), a colon and the port. IPv6 zone ids are ignored: the port pair
 * already tells connections apart.
 *
 * @module
 */

/** `AF_INET` on Linux and macOS. */
export const AF_INET = 2;
/** `AF_INET6` on Linux. */
export const AF_INET6_LINUX = 10;
/** `AF_INET6` on macOS. */
export const AF_INET6_DARWIN = 30;
/** A buffer size that holds any `struct sockaddr` (`sizeof(struct sockaddr_storage)`). */
export const SOCKADDR_STORAGE_SIZE = 128;

function parseIpv4(text: string, into: Uint8Array, at: number): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return false;
    const value = Number(parts[i]);
    if (value > 255) return false;
    into[at + i] = value;
  }
  return true;
}

/**
 * Parses an IPv4 or IPv6 address (brackets and a `%zone` suffix allowed) into 16 bytes, IPv4 as
 * `::ffff:a.b.c.d`. Returns undefined for anything else (a host name, garbage).
 *
 * @example
 * ```ts
 * import { parseIp } from "./sockaddr.ts";
 *
 * console.log(parseIp("127.0.0.1")); // Uint8Array(16) [0, ..., 0, 255, 255, 127, 0, 0, 1]
 * console.log(parseIp("localhost")); // undefined
 * ```
 */
export function parseIp(text: string): Uint8Array | undefined {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone !== -1) s = s.slice(0, zone);
  const out = new Uint8Array(16);
  if (!s.includes(":")) {
    out[10] = out[11] = 0xff;
    return parseIpv4(s, out, 12) ? out : undefined;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  // An embedded IPv4 address takes the last two groups' room.
  const words: number[] = [];
  const pushAll = (list: string[], into: number[]): boolean => {
    for (let i = 0; i < list.length; i++) {
      const group = list[i];
      if (group.includes(".")) {
        if (i !== list.length - 1) return false;
        const v4 = new Uint8Array(4);
        if (!parseIpv4(group, v4, 0)) return false;
        into.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
        into.push(parseInt(group, 16));
      }
    }
    return true;
  };
  const tailWords: number[] = [];
  if (!pushAll(head, words) || !pushAll(tail, tailWords)) return undefined;
  // An IPv4 tail is only allowed at the very end of the address.
  if (halves.length === 2 && head.some((g) => g.includes("."))) return undefined;
  if (halves.length === 2) {
    const gap = 8 - words.length - tailWords.length;
    if (gap < 1) return undefined;
    for (let i = 0; i < gap; i++) words.push(0);
  }
  words.push(...tailWords);
  if (words.length !== 8) return undefined;
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}

/**
 * The comparable key of an endpoint given as text, or undefined when the address is not an IP
 * address or the port is not a port.
 *
 * @example
 * ```ts
 * import { endpointKey } from "./sockaddr.ts";
 *
 * console.log(endpointKey("127.0.0.1", 80) === endpointKey("::ffff:127.0.0.1", 80)); // true
 * ```
 */
export function endpointKey(address: string, port: number): string | undefined {
  if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  const bytes = parseIp(address);
  return bytes === undefined ? undefined : `${hex(bytes)}:${port}`;
}

/**
 * The key of the endpoint in a `struct sockaddr_in` or `sockaddr_in6` as `getsockname` fills it,
 * or undefined for any other family (Unix sockets...) or a short length. On macOS the structure
 * starts with a length byte and a one-byte family; on Linux with a two-byte family in host order.
 *
 * @example
 * ```ts
 * import { sockaddrKey } from "./sockaddr.ts";
 *
 * // sockaddr_in for 127.0.0.1:8080 on little-endian Linux.
 * const bytes = new Uint8Array([2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
 * console.log(sockaddrKey(bytes, 16, "linux")); // "00000000000000000000ffff7f000001:8080"
 * ```
 */
export function sockaddrKey(
  bytes: Uint8Array,
  length: number,
  os: "linux" | "darwin",
  littleEndian = true,
): string | undefined {
  if (length < 8) return undefined;
  const family = os === "darwin"
    ? bytes[1]
    : littleEndian
    ? bytes[0] | (bytes[1] << 8)
    : (bytes[0] << 8) | bytes[1];
  // sin_port / sin6_port: network byte order, right after the family.
  const port = (bytes[2] << 8) | bytes[3];
  const address = new Uint8Array(16);
  if (family === AF_INET) {
    address[10] = address[11] = 0xff;
    address.set(bytes.subarray(4, 8), 12);
  } else if (family === (os === "darwin" ? AF_INET6_DARWIN : AF_INET6_LINUX)) {
    // sin6_flowinfo (4 bytes) comes first, then the 16-byte address.
    if (length < 24) return undefined;
    address.set(bytes.subarray(8, 24));
  } else {
    return undefined;
  }
  return `${hex(address)}:${port}`;
}

/**
 * Formats an endpoint key back as `address:port` text for messages (`[v6]:port` for IPv6).
 *
 * @example
 * ```ts
 * import { endpointKey, formatKey } from "./sockaddr.ts";
 *
 * console.log(formatKey(endpointKey("127.0.0.1", 80)!)); // "127.0.0.1:80"
 * ```
 */
export function formatKey(key: string): string {
  const [bytesHex, port] = key.split(":");
  const bytes = bytesHex.match(/../g)!.map((pair) => parseInt(pair, 16));
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 &&
    bytes[11] === 255;
  if (mapped) return `${bytes.slice(12).join(".")}:${port}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return `[${groups.join(":")}]:${port}`;
}
