/**
 * The SOCKS5 client handshake (RFC 1928) with username/password authentication (RFC 1929):
 * greeting, optional authentication, then a CONNECT to the origin by IP address or by name.
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";
import type { HandshakeSocket } from "./handshake_socket.ts";
import { parseIp } from "./no_proxy.ts";

const encoder = new TextEncoder();

/** RFC 1928 §6: what each reply code means. */
export const SOCKS_REPLIES: Readonly<Record<number, string>> = Object.freeze({
  0: "succeeded",
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
});

/** Where the SOCKS server should connect: an IP literal, or a name it resolves itself. */
export interface SocksTarget {
  /** IPv4 or IPv6 literal (without brackets), or a domain name. */
  readonly host: string;
  /** 4 or 6 for an IP literal, 0 for a name (socks5h). */
  readonly family: 0 | 4 | 6;
  /** The port. */
  readonly port: number;
}

/** The credentials of RFC 1929, or null for "no authentication required". */
export interface SocksCredentials {
  /** The user name (at most 255 bytes). */
  readonly username: string;
  /** The password (at most 255 bytes). */
  readonly password: string;
}

// Reads exactly `n` bytes (a SOCKS reply may arrive in pieces, or with tunnel bytes behind it).
async function readExactly(socket: HandshakeSocket, n: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const chunk = await socket.read(what);
    const take = Math.min(chunk.length, n - filled);
    out.set(chunk.subarray(0, take), filled);
    filled += take;
    if (take < chunk.length) socket.unread(chunk.subarray(take));
  }
  return out;
}

function failure(message: string): WirefetchError {
  return new WirefetchError("ERR_PROXY", `SOCKS5 proxy: ${message}`);
}

/**
 * Runs the handshake; resolves with the reply code (0) once the server connected to `target`.
 * Rejects with `ERR_PROXY` naming the reply's meaning, a refused authentication, or a server
 * that does not speak SOCKS5.
 *
 * @example
 * ```ts ignore
 * await socks5Connect(new HandshakeSocket(socket), { host: "example.com", family: 0, port: 443 }, null);
 * ```
 */
export async function socks5Connect(
  socket: HandshakeSocket,
  target: SocksTarget,
  credentials: SocksCredentials | null,
): Promise<number> {
  // RFC 1928 §3: version 5, the methods we offer: 0x00 (none) and, with credentials, 0x02.
  const methods = credentials === null ? [0x00] : [0x00, 0x02];
  await socket.write(new Uint8Array([0x05, methods.length, ...methods]));
  const choice = await readExactly(socket, 2, "the SOCKS5 method selection");
  if (choice[0] !== 0x05) {
    throw failure(`the server does not speak SOCKS5 (version byte ${choice[0]})`);
  }
  if (choice[1] === 0xff) {
    throw failure(
      credentials === null
        ? "the server requires authentication (give a user name and password in the proxy URL)"
        : "the server accepts none of our authentication methods",
    );
  }
  if (choice[1] === 0x02) {
    if (credentials === null) throw failure("the server chose an authentication we did not offer");
    // RFC 1929 §2: version 1, then length-prefixed user name and password.
    const user = encoder.encode(credentials.username);
    const pass = encoder.encode(credentials.password);
    if (user.length > 255 || pass.length > 255) {
      throw failure("the user name and password must each be at most 255 bytes");
    }
    await socket.write(
      new Uint8Array([0x01, user.length, ...user, pass.length, ...pass]),
    );
    const status = await readExactly(socket, 2, "the SOCKS5 authentication status");
    if (status[1] !== 0x00) throw failure("authentication failed (wrong user name or password)");
  } else if (choice[1] !== 0x00) {
    throw failure(`the server chose an authentication method we did not offer (${choice[1]})`);
  }
  // RFC 1928 §4: CONNECT, reserved byte, then the address: 1 IPv4, 3 domain name, 4 IPv6.
  let address: number[];
  if (target.family !== 0) {
    const ip = parseIp(target.host);
    if (ip === null) throw failure(`${target.host} is not an IP address`);
    address = [ip.length === 4 ? 0x01 : 0x04, ...ip];
  } else {
    const name = encoder.encode(target.host);
    if (name.length > 255) throw failure("the host name is longer than 255 bytes");
    address = [0x03, name.length, ...name];
  }
  await socket.write(
    new Uint8Array([0x05, 0x01, 0x00, ...address, target.port >> 8, target.port & 0xff]),
  );
  const reply = await readExactly(socket, 4, "the SOCKS5 reply");
  if (reply[0] !== 0x05) {
    throw failure(`the server does not speak SOCKS5 (version byte ${reply[0]})`);
  }
  if (reply[1] !== 0x00) {
    const meaning = SOCKS_REPLIES[reply[1]] ?? "unknown reply code";
    // The code travels with the error for the `proxyconnectdone` event.
    throw Object.assign(
      failure(`the server could not connect: ${meaning} (reply ${reply[1]})`),
      { proxyStatus: reply[1] },
    );
  }
  // The bound address and port follow; their length depends on the address type.
  const type = reply[3];
  const length = type === 0x01
    ? 4
    : type === 0x04
    ? 16
    : type === 0x03
    ? (await readExactly(socket, 1, "the SOCKS5 reply"))[0]
    : -1;
  if (length < 0) throw failure(`the reply has an unknown address type (${type})`);
  await readExactly(socket, length + 2, "the SOCKS5 reply");
  return 0;
}
