/**
 * A socket during a proxy handshake: the handshake reads its replies with `read()`, then the
 * connection (or a TLS layer) takes the socket over with `listen()`, receiving first any bytes
 * that came after the reply.
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";
import type { NetAddress, Socket, SocketListener } from "../runtime/socket.ts";

/**
 * Wraps a connected {@linkcode Socket} (on which `listen` was not called) for a request/reply
 * handshake, and is itself a Socket once the handshake is over.
 *
 * @example
 * ```ts ignore
 * const handshake = new HandshakeSocket(socket);
 * await handshake.write(greeting);
 * const reply = await handshake.read();
 * ```
 */
export class HandshakeSocket implements Socket, SocketListener {
  readonly #inner: Socket;
  #buffer: Uint8Array[] = [];
  #ended: WirefetchError | null = null;
  #wake: (() => void) | null = null;
  #listener: SocketListener | null = null;

  // Whether the inner socket is read on demand (`pull`) rather than listened to.
  #pulling: boolean;

  /** Starts reading `inner`: on demand when it can (`pull`), else by listening to it. */
  constructor(inner: Socket) {
    this.#inner = inner;
    this.#pulling = inner.pull !== undefined;
    if (!this.#pulling) inner.listen(this);
  }

  /** Our end. */
  get localAddress(): NetAddress {
    return this.#inner.localAddress;
  }
  /** The proxy's end. */
  get remoteAddress(): NetAddress {
    return this.#inner.remoteAddress;
  }
  /** The ALPN protocol negotiated with the proxy (none over a tunnel's plain bytes). */
  get alpnProtocol(): string | null {
    return this.#inner.alpnProtocol;
  }
  /** The TLS version with the proxy, or null. */
  get tlsVersion(): string | null {
    return this.#inner.tlsVersion ?? null;
  }
  /** The descriptor of the socket to the proxy, or -1. */
  get fd(): number {
    return this.#inner.fd;
  }

  /**
   * The next bytes: what is buffered, or the next chunk. Rejects when the proxy closed or the
   * socket failed (the error names the proxy; `what` says what we were waiting for).
   */
  async read(what: string): Promise<Uint8Array> {
    if (this.#pulling && this.#buffer.length === 0 && this.#ended === null) {
      let chunk: Uint8Array | null;
      try {
        chunk = await this.#inner.pull!();
      } catch (error) {
        chunk = null;
        this.#ended ??= error as WirefetchError;
      }
      if (chunk !== null) return chunk;
      this.#ended ??= new WirefetchError("ERR_CONNECTION_CLOSED", "closed by the proxy");
    }
    while (this.#buffer.length === 0) {
      if (this.#ended !== null) {
        throw new WirefetchError(
          "ERR_PROXY",
          `the proxy closed the connection while we waited for ${what}`,
          { cause: this.#ended },
        );
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    return this.#buffer.shift()!;
  }

  /** Puts bytes back in front of the buffer (they belong to whatever reads next). */
  unread(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#buffer.unshift(bytes);
  }

  // SocketListener (the inner socket's events)

  /** @internal */
  onSocketData(chunk: Uint8Array): void {
    const listener = this.#listener;
    if (listener !== null) {
      listener.onSocketData(chunk);
      return;
    }
    this.#buffer.push(chunk);
    this.#notify();
  }

  /** @internal */
  onSocketEnd(): void {
    const listener = this.#listener;
    if (listener !== null) {
      listener.onSocketEnd();
      return;
    }
    this.#ended = new WirefetchError("ERR_CONNECTION_CLOSED", "closed by the proxy");
    this.#notify();
  }

  /** @internal */
  onSocketError(error: WirefetchError): void {
    const listener = this.#listener;
    if (listener !== null) {
      listener.onSocketError(error);
      return;
    }
    this.#ended = error;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  // Socket (after the handshake)

  /**
   * Gives up the inner socket's runtime connection for a TLS upgrade when nothing is buffered
   * (see {@linkcode Socket.detach}).
   */
  detach(): unknown {
    if (this.#listener !== null || this.#buffer.length > 0 || !this.#pulling) return undefined;
    return this.#inner.detach?.();
  }

  /** Hands the socket over: buffered bytes first, then everything the proxy sends. */
  listen(listener: SocketListener): void {
    this.#listener = listener;
    if (this.#pulling) {
      this.#pulling = false;
      for (const chunk of this.#buffer.splice(0)) listener.onSocketData(chunk);
      if (this.#ended === null) this.#inner.listen(this);
      else if (this.#ended.code === "ERR_CONNECTION_CLOSED") listener.onSocketEnd();
      else listener.onSocketError(this.#ended);
      return;
    }
    const buffered = this.#buffer;
    this.#buffer = [];
    for (const chunk of buffered) listener.onSocketData(chunk);
    const ended = this.#ended;
    if (ended === null) return;
    if (ended.code === "ERR_CONNECTION_CLOSED") listener.onSocketEnd();
    else listener.onSocketError(ended);
  }

  /** Writes to the proxy connection. */
  write(data: Uint8Array): Promise<void> | null {
    return this.#inner.write(data);
  }
  /** Pauses the proxy connection. */
  pause(): void {
    this.#inner.pause();
  }
  /** Resumes the proxy connection. */
  resume(): void {
    this.#inner.resume();
  }
  /** Unrefs the proxy connection. */
  unref(): void {
    this.#inner.unref();
  }
  /** Refs the proxy connection. */
  ref(): void {
    this.#inner.ref();
  }
  /** Closes the proxy connection and wakes a pending `read()`. */
  close(): void {
    this.#inner.close();
    if (this.#listener === null && this.#ended === null) {
      this.#ended = new WirefetchError("ERR_SOCKET", "closed during the proxy handshake");
      this.#notify();
    }
  }
}
