/**
 * Routes: how the bytes of a request travel to its origin, decided once per request from the
 * client's options, the request's own options and the environment. After Go's
 * `connectMethodKey`: the route is the key of the connection pool, so a connection through a
 * proxy, a tunnel, a unix socket or with a TLS profile can only ever serve requests of the same
 * route, and the dialer follows the route. Nothing above the pool knows about proxies; the only
 * difference the exchange sees is the request target's form and the proxy's own headers, which
 * the route gives it.
 *
 * | route                               | dial                          | request target |
 * | ----------------------------------- | ----------------------------- | -------------- |
 * | direct                              | TCP (+TLS) to the origin      | origin-form    |
 * | http origin, http(s) proxy          | TCP (+TLS) to the proxy       | absolute-form  |
 * | https origin, http(s) proxy         | proxy, CONNECT, TLS inside    | origin-form    |
 * | socks5 / socks5h proxy              | proxy, SOCKS5, TLS for https  | origin-form    |
 * | unix socket                         | the socket (+TLS for https)   | origin-form    |
 *
 * Over a unix socket the server is the origin itself (the Docker Engine API, say), so the
 * request goes in origin-form, as RFC 9112 §3.2.1 prescribes for origin servers and as Bun does
 * (Deno sends the absolute-form).
 *
 * @module
 */

import type { CheckServerIdentity, TlsSettings } from "../runtime/socket.ts";
import type { ProxyEnvironment } from "../proxy/environment.ts";
import { NoProxy } from "../proxy/no_proxy.ts";
import { flattenHeaders } from "../request.ts";

/** A proxy with extra headers to send it (on `CONNECT`, and on absolute-form requests). */
export interface ProxyInit {
  /** `http://`, `https://`, `socks5://` or `socks5h://` URL, with optional credentials. */
  url: string | URL;
  /** Headers for the proxy only; never sent to the origin. */
  headers?: HeadersInit;
}

/**
 * The `proxy` option: a proxy URL, a {@linkcode ProxyInit}, or `false`/`null` for none (the
 * environment is then ignored too).
 */
export type ProxyOption = string | URL | ProxyInit | false | null;

/** TLS options of a client or of one request, named as Bun's and Node's `tls` options are. */
export interface TlsClientOptions {
  /** Verify the server's certificate chain. Default true. */
  rejectUnauthorized?: boolean;
  /** Extra trusted root certificates (PEM), added to the runtime's own roots. */
  ca?: string | readonly string[];
  /** A client certificate chain (PEM) for mutual TLS; needs `key`. */
  cert?: string;
  /** The private key (PEM) of `cert`. */
  key?: string;
  /** The name sent as SNI and checked in the certificate, instead of the URL's host. */
  servername?: string;
  /**
   * Called with the host name and the peer certificate after the chain was verified; return an
   * Error to refuse the connection (certificate pinning). It replaces the host name check.
   * Keep the same function for requests that should share connections: it is part of the pool
   * key.
   */
  checkServerIdentity?: CheckServerIdentity;
}

/** The per-request route options (Bun's `fetch` options): they override the client's. */
export interface RouteOptions {
  /** See {@linkcode ProxyOption}; `undefined` keeps the client's choice. */
  proxy?: ProxyOption;
  /** A unix domain socket path to send the request over. */
  unix?: string;
  /** TLS options, field by field over the client's. */
  tls?: TlsClientOptions;
}

/** A proxy, parsed. */
export interface ProxySettings {
  /** The protocol spoken to the proxy. */
  readonly protocol: "http" | "https" | "socks5" | "socks5h";
  /** Host name or IP literal (IPv6 without brackets). */
  readonly host: string;
  /** The port (default: 80 http, 443 https, 1080 socks). */
  readonly port: number;
  /** The proxy URL without credentials, for messages and events. */
  readonly url: string;
  /** Headers for the proxy: Proxy-Authorization (from the URL's credentials) and extra ones. */
  readonly headers: readonly string[];
  /** SOCKS credentials, or null. */
  readonly credentials: { readonly username: string; readonly password: string } | null;
  /** TLS to the proxy itself (https proxies), else null. */
  readonly tls: TlsSettings | null;
  /** Part of the pool key: the URL plus an id for credentials and headers (never shown). */
  readonly key: string;
}

/** How to reach an origin; the pool key and the dialer's instructions. */
export interface Route {
  /** Pool key: origin, and whatever else makes connections different. */
  readonly key: string;
  /** `scheme://host:port` of the origin. */
  readonly origin: string;
  /** The origin's host (IPv6 without brackets). */
  readonly host: string;
  /** The origin's port. */
  readonly port: number;
  /** TLS with the origin (https), else null. */
  readonly tls: TlsSettings | null;
  /** The proxy, or null. */
  readonly proxy: ProxySettings | null;
  /** A CONNECT or SOCKS5 handshake opens a tunnel to the origin before its bytes flow. */
  readonly tunnel: boolean;
  /** Requests go in absolute-form (plain http through an HTTP proxy, RFC 9112 §3.2.2). */
  readonly absoluteForm: boolean;
  /** Header fields every request of this route carries (the proxy's, for absolute-form). */
  readonly requestHeaders: readonly string[];
  /** A unix domain socket path, or null. */
  readonly unix: string | null;
  /** The local address to bind, or null. */
  readonly localAddress: string | null;
  /** TCP keepalive idle time in ms, 0 for off. */
  readonly keepAlive: number;
}

/** What a client sets for all its routes. */
export interface RouteDefaults {
  /** The client's `proxy` option; undefined reads the environment. */
  readonly proxy: ProxyOption | undefined;
  /** The client's `unix` option. */
  readonly unix: string | undefined;
  /** The client's TLS options (`caCerts` and `unsafelyIgnoreCertificateErrors` folded in). */
  readonly tls: TlsClientOptions;
  /** The client's `localAddress`. */
  readonly localAddress: string | undefined;
  /** TCP keepalive idle time (ms), 0 for off. */
  readonly keepAlive: number;
}

const DEFAULT_PORTS: Record<string, number> = {
  "http:": 80,
  "https:": 443,
  "socks5:": 1080,
  "socks5h:": 1080,
};

const encoder = new TextEncoder();

function basic(username: string, password: string): string {
  return `Basic ${btoa(String.fromCharCode(...encoder.encode(`${username}:${password}`)))}`;
}

function bare(hostname: string): string {
  return hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
}

function pemList(ca: string | readonly string[] | undefined): readonly string[] | undefined {
  if (ca === undefined) return undefined;
  return typeof ca === "string" ? [ca] : ca;
}

/**
 * Computes routes for one client and keeps them, so equal routes are the same object (TLS
 * contexts are cached per settings object below).
 *
 * @example
 * ```ts
 * import { Router } from "./route.ts";
 * const router = new Router(
 *   { proxy: "http://proxy.internal:3128", unix: undefined, tls: {}, localAddress: undefined, keepAlive: 15_000 },
 *   null,
 * );
 * console.log(router.route(new URL("http://example.com/")).absoluteForm); // true
 * ```
 */
export class Router {
  readonly #defaults: RouteDefaults;
  readonly #env: ProxyEnvironment | null;
  readonly #noProxy: NoProxy;
  readonly #routes = new Map<string, Route>();
  readonly #proxies = new Map<string, ProxySettings>();
  // Ids for things that cannot be part of a readable key: PEM texts, credentials, callbacks.
  readonly #ids = new Map<unknown, number>();
  // TLS profiles of requests, numbered in order of first use (` tls#1` in pool keys).
  readonly #profiles = new Map<string, number>();
  readonly #defaultProfile: TlsClientOptions;

  /** Creates a router; `env` is the proxy environment (null: ignore it). */
  constructor(defaults: RouteDefaults, env: ProxyEnvironment | null) {
    this.#defaults = defaults;
    this.#env = env;
    this.#noProxy = new NoProxy(env?.noProxy ?? null);
    this.#defaultProfile = defaults.tls;
  }

  #id(thing: unknown): number {
    let id = this.#ids.get(thing);
    if (id === undefined) {
      id = this.#ids.size + 1;
      this.#ids.set(thing, id);
    }
    return id;
  }

  /** The proxy for `url` with the options in force, or null. Throws TypeError for a bad one. */
  proxyFor(url: URL, option: ProxyOption | undefined): ProxySettings | null {
    if (option === false || option === null) return null;
    if (option !== undefined) return this.#parseProxy(option);
    const env = this.#env;
    if (env === null) return null;
    const value = (url.protocol === "https:" ? env.https : env.http) ?? env.all;
    if (value === null) return null;
    const port = url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80";
    if (this.#noProxy.matches(bare(url.hostname), port)) return null;
    return this.#parseProxy(value);
  }

  #parseProxy(option: string | URL | ProxyInit): ProxySettings {
    const init: ProxyInit = typeof option === "string" || option instanceof URL
      ? { url: option }
      : option;
    let text = String(init.url);
    const headerList = init.headers === undefined ? [] : flattenHeaders(init.headers);
    const cacheKey = headerList.length === 0 ? text : null;
    if (cacheKey !== null) {
      const cached = this.#proxies.get(cacheKey);
      if (cached !== undefined) return cached;
    }
    // "proxy.internal:3128" is an http proxy, as curl and Go read it.
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `http://${text}`;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new TypeError(`invalid proxy URL: ${JSON.stringify(String(init.url))}`);
    }
    const scheme = url.protocol;
    const port = DEFAULT_PORTS[scheme];
    if (port === undefined) {
      // An unsupported proxy is an error: going direct instead (as Bun does for SOCKS) would
      // bypass a proxy the user relies on, for privacy or to reach the network at all.
      throw new TypeError(
        `unsupported proxy protocol ${scheme} in ${url.protocol}//${url.host}: ` +
          "use http:, https:, socks5: or socks5h:",
      );
    }
    let username = "";
    let password = "";
    try {
      username = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch {
      throw new TypeError("the proxy URL's credentials are not valid percent-encoding");
    }
    const hasCredentials = url.username !== "" || url.password !== "";
    const protocol = scheme.slice(0, -1) as ProxySettings["protocol"];
    const socks = protocol === "socks5" || protocol === "socks5h";
    const headers: string[] = [];
    if (hasCredentials && !socks) headers.push("proxy-authorization", basic(username, password));
    headers.push(...headerList);
    const host = bare(url.hostname);
    const clean = `${scheme}//${url.host}`;
    const tlsOptions = this.#defaultProfile;
    const settings: ProxySettings = {
      protocol,
      host,
      port: url.port === "" ? port : Number(url.port),
      url: clean,
      headers,
      credentials: socks && hasCredentials ? { username, password } : null,
      tls: protocol === "https"
        ? {
          serverName: host,
          caCerts: pemList(tlsOptions.ca),
          insecure: tlsOptions.rejectUnauthorized === false,
        }
        : null,
      key: hasCredentials || headers.length > 0
        ? `${clean}#${this.#id(`${username}\0${password}\0${headers.join("\0")}`)}`
        : clean,
    };
    if (cacheKey !== null) this.#proxies.set(cacheKey, settings);
    return settings;
  }

  /**
   * The route of a request to `url`, with the request's own options over the client's.
   * Throws TypeError for an invalid proxy or TLS option.
   */
  route(url: URL, options?: RouteOptions): Route {
    const defaults = this.#defaults;
    const unix = options?.unix ?? defaults.unix ?? null;
    const https = url.protocol === "https:";
    const host = bare(url.hostname);
    const port = url.port === "" ? (https ? 443 : 80) : Number(url.port);
    const origin = url.origin;
    const proxy = unix !== null ? null : this.proxyFor(url, options?.proxy ?? defaults.proxy);
    const ownTls = options?.tls;
    let profile = "";
    if (https && ownTls !== undefined) {
      const t = ownTls;
      const signature = [
        t.rejectUnauthorized,
        (pemList(t.ca) ?? []).map((pem) => this.#id(pem)).join("+"),
        t.cert === undefined ? "" : this.#id(t.cert),
        t.key === undefined ? "" : this.#id(t.key),
        t.servername,
        t.checkServerIdentity === undefined ? "" : this.#id(t.checkServerIdentity),
      ].join(",");
      let id = this.#profiles.get(signature);
      if (id === undefined) {
        id = this.#profiles.size + 1;
        this.#profiles.set(signature, id);
      }
      profile = ` tls#${id}`;
    }
    const key = `${unix === null ? "" : `unix:${unix} `}${origin}${
      proxy === null ? "" : ` via ${proxy.key}`
    }${profile}`;
    const cached = this.#routes.get(key);
    if (cached !== undefined) return cached;
    let tls: TlsSettings | null = null;
    if (https) {
      const d = defaults.tls;
      const o = ownTls ?? {};
      const cert = o.cert ?? d.cert;
      const keyPem = o.key ?? d.key;
      if ((cert === undefined) !== (keyPem === undefined)) {
        throw new TypeError("tls.cert and tls.key must be given together");
      }
      tls = {
        serverName: o.servername ?? d.servername ?? host,
        caCerts: pemList(o.ca ?? d.ca),
        insecure: (o.rejectUnauthorized ?? d.rejectUnauthorized) === false,
        alpnProtocols: ["http/1.1"],
        cert,
        key: keyPem,
        checkServerIdentity: o.checkServerIdentity ?? d.checkServerIdentity,
      };
    }
    const viaHttpProxy = proxy !== null &&
      (proxy.protocol === "http" || proxy.protocol === "https");
    const absoluteForm = viaHttpProxy && !https;
    const route: Route = {
      key,
      origin,
      host,
      port,
      tls,
      proxy,
      tunnel: proxy !== null && !absoluteForm,
      absoluteForm,
      requestHeaders: absoluteForm ? proxy!.headers : [],
      unix,
      localAddress: defaults.localAddress ?? null,
      keepAlive: defaults.keepAlive,
    };
    this.#routes.set(key, route);
    return route;
  }
}
