/**
 * The proxy environment variables, read once per client as Go's `ProxyFromEnvironment` does:
 * `HTTP_PROXY` for http URLs, `HTTPS_PROXY` for https URLs, `ALL_PROXY` for either when the
 * scheme's own variable is unset, and `NO_PROXY` for the exceptions (see `no_proxy.ts`).
 *
 * Each is read in lowercase first, then uppercase (`http_proxy` wins over `HTTP_PROXY`), as
 * curl, undici's `EnvHttpProxyAgent` and Python do; an empty value counts as unset. As Go does,
 * uppercase `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set: in a CGI program it can come
 * from a request's `Proxy:` header ("httpoxy").
 *
 * On Deno without env permission nothing is read and nothing is asked: the variables are
 * treated as unset (a permission prompt or a crash from a library's fetch would be worse).
 *
 * @module
 */

/** The proxy settings found in the environment (null: unset). */
export interface ProxyEnvironment {
  /** For http URLs. */
  readonly http: string | null;
  /** For https URLs. */
  readonly https: string | null;
  /** For either, when the scheme's own variable is unset. */
  readonly all: string | null;
  /** The exceptions. */
  readonly noProxy: string | null;
}

type Getter = (name: string) => string | undefined;

function denoGetter(deno: {
  env: { get(name: string): string | undefined };
  permissions?: { querySync?(descriptor: { name: string; variable?: string }): { state: string } };
}): Getter {
  return (name) => {
    try {
      // Query first: reading a variable without permission would prompt on a terminal.
      const state = deno.permissions?.querySync?.({ name: "env", variable: name }).state;
      if (state !== undefined && state !== "granted") return undefined;
      return deno.env.get(name);
    } catch {
      return undefined;
    }
  };
}

function getter(): Getter {
  const g = globalThis as {
    Deno?: Parameters<typeof denoGetter>[0];
    Bun?: unknown;
    process?: { env?: Record<string, string | undefined> };
  };
  if (g.Deno !== undefined && g.Bun === undefined && typeof g.Deno.env?.get === "function") {
    return denoGetter(g.Deno);
  }
  const env = g.process?.env;
  return (name) => env?.[name];
}

/**
 * Reads the variables now (with `get`, default the runtime's environment).
 *
 * @example
 * ```ts
 * import { readProxyEnvironment } from "./environment.ts";
 * const env = readProxyEnvironment((name) => ({ HTTPS_PROXY: "http://proxy:3128" })[name]);
 * console.log(env.https); // "http://proxy:3128"
 * ```
 */
export function readProxyEnvironment(get: Getter = getter()): ProxyEnvironment {
  const read = (lower: string, upper: string | null): string | null => {
    const value = get(lower) || (upper === null ? undefined : get(upper));
    return value === undefined || value === "" ? null : value;
  };
  const cgi = (get("REQUEST_METHOD") ?? "") !== "";
  return {
    http: read("http_proxy", cgi ? null : "HTTP_PROXY"),
    https: read("https_proxy", "HTTPS_PROXY"),
    all: read("all_proxy", "ALL_PROXY"),
    noProxy: read("no_proxy", "NO_PROXY"),
  };
}
