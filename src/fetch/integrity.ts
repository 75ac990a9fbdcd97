/**
 * Subresource Integrity (W3C SRI §3.3) for `fetch(url, { integrity })`: the body must hash to
 * one of the given digests of the strongest algorithm listed, or the fetch is a network error.
 * sha256, sha384 and sha512; digests in base64 or base64url; options (`?foo`) ignored; unknown
 * algorithms ignored (metadata with none known matches anything, as the standard says). Hashing
 * needs the whole body, so a response with integrity is buffered before fetch resolves.
 *
 * @module
 */

/** One parsed `hash-expression`. */
interface Metadata {
  readonly algorithm: "sha256" | "sha384" | "sha512";
  readonly digest: string;
}

const ALGORITHMS: Record<string, { name: string; rank: number }> = {
  sha256: { name: "SHA-256", rank: 1 },
  sha384: { name: "SHA-384", rank: 2 },
  sha512: { name: "SHA-512", rank: 3 },
};

function parseMetadata(metadata: string): Metadata[] {
  const result: Metadata[] = [];
  for (const token of metadata.split(/[\t\n\f\r ]+/)) {
    if (token === "") continue;
    // hash-expression = hash-algo "-" base64-value ["?" options]
    const dash = token.indexOf("-");
    if (dash < 0) continue;
    const algorithm = token.slice(0, dash).toLowerCase();
    if (!(algorithm in ALGORITHMS)) continue;
    const value = token.slice(dash + 1).split("?")[0];
    result.push({ algorithm: algorithm as Metadata["algorithm"], digest: value });
  }
  return result;
}

/** base64 and base64url spellings of a digest compare equal; padding is optional. */
function normalize(digest: string): string {
  return digest.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

/**
 * Whether `bytes` match the integrity `metadata` (SRI §3.3.5 "do bytes match metadataList").
 * Empty metadata, or metadata naming no known algorithm, matches.
 *
 * @example
 * ```ts
 * import { matchesIntegrity } from "./integrity.ts";
 * const ok = await matchesIntegrity(
 *   new TextEncoder().encode("alert('Hello, world.');"),
 *   "sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng=",
 * );
 * console.log(ok); // true
 * ```
 */
export async function matchesIntegrity(bytes: Uint8Array, metadata: string): Promise<boolean> {
  const list = parseMetadata(metadata);
  if (list.length === 0) return true;
  // §3.3.3 "get the strongest metadata from set": only the strongest algorithm counts.
  let strongest = 0;
  for (const item of list) strongest = Math.max(strongest, ALGORITHMS[item.algorithm].rank);
  const digests = new Map<string, string>();
  for (const item of list) {
    const algorithm = ALGORITHMS[item.algorithm];
    if (algorithm.rank !== strongest) continue;
    let actual = digests.get(algorithm.name);
    if (actual === undefined) {
      const hash = await crypto.subtle.digest(algorithm.name, bytes as Uint8Array<ArrayBuffer>);
      actual = normalize(base64(new Uint8Array(hash)));
      digests.set(algorithm.name, actual);
    }
    if (normalize(item.digest) === actual) return true;
  }
  return false;
}
