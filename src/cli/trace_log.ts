/**
 * httpstat's `--trace`: every trace event of a request on one line, with its time relative to
 * the start of the request and its own fields, a timeline for when the waterfall is not enough.
 *
 * @module
 */

import type { TraceEvent } from "../trace/events.ts";

// Fields every event has; the line shows them once, in its own columns.
const COMMON = new Set(["requestId", "connectionId", "time", "method", "url", "isTrusted"]);

function formatValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : value.toFixed(3);
  }
  if (typeof value === "string") return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === "boolean") return String(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  if (Array.isArray(value)) return `[${value.map(formatValue).join(",")}]`;
  if (typeof value === "object") {
    const o = value as Record<string, unknown>;
    // A NetAddress.
    if (typeof o.address === "string" && typeof o.port === "number") {
      return o.family === "IPv6" ? `[${o.address}]:${o.port}` : `${o.address}:${o.port}`;
    }
    if (typeof Headers !== "undefined" && value instanceof Headers) {
      return `{${[...value].map(([k, v]) => `${k}: ${v}`).join(", ")}}`;
    }
    // Timings: the total is what a timeline line needs.
    if (typeof o.total === "number" && typeof o.ttfb === "number") {
      return `{total ${o.total.toFixed(3)} ms}`;
    }
    // A TCP_INFO snapshot or a connection handle: named, not dumped.
    if (typeof o.state === "string" && "raw" in o) return `{TCP_INFO ${o.state}}`;
    if (typeof o.id === "number") return `#${o.id}`;
    return undefined;
  }
  return String(value);
}

/**
 * The key fields of an event as `name=value` pairs (its own fields, not the common ones).
 *
 * @example
 * ```ts
 * import { eventFields } from "./trace_log.ts";
 * console.log(eventFields({ type: "dnsstart", host: "example.com" } as never)); // "host=example.com"
 * ```
 */
export function eventFields(event: TraceEvent): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(event)) {
    if (COMMON.has(name)) continue;
    const text = formatValue(value);
    if (text !== undefined) parts.push(`${name}=${text}`);
  }
  return parts.join(" ");
}

/**
 * One timeline line: `+  1.234 ms  dnsdone               conn -  addresses=[127.0.0.1] ...`.
 *
 * @example
 * ```ts ignore
 * console.log(traceLine(event, start));
 * ```
 */
export function traceLine(event: TraceEvent, start: number): string {
  const at = `+${(event.time - start).toFixed(3).padStart(9)} ms`;
  const conn = event.connectionId === undefined ? "" : `#${event.connectionId}`;
  return `${at}  ${event.type.padEnd(20)} ${conn.padEnd(4)} ${eventFields(event)}`.trimEnd();
}
