/**
 * Installs wirefetch as `globalThis.fetch` when imported, with the default client: one import
 * and every `fetch` in the process (third-party code included) uses wirefetch's pool.
 *
 * @example
 * ```ts
 * import "@wirefetch/fetch/install";
 * import { defaultClient } from "@wirefetch/fetch";
 *
 * defaultClient.addEventListener("gotconn", (e) => console.log(e.type));
 * await fetch("http://127.0.0.1:8080/"); // through wirefetch
 * ```
 *
 * @module
 */

import { install } from "./global.ts";

install();
