// instrument() with no providers given joins the runtime's own OpenTelemetry pipeline: on Deno
// with OTEL_DENO=true, Deno registers its providers with the API and exports our spans over OTLP
// next to its own. Node and Bun have no built-in pipeline: there, with no SDK registered, the
// instrumentation is a no-op (no span, no traceparent) and the request is unaffected.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startHttpServer } from "../support/servers.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  events: { name: string }[];
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** Runs otel_child in a process of its own; resolves with its exit code (bounded by a deadline). */
function runChild(env: Record<string, string>): Promise<number> {
  const isDeno = "Deno" in globalThis;
  // Under Node the tests run compiled: the child is the .js next to this file.
  const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
  const child = fileURLToPath(new URL(`./otel_child${ext}`, import.meta.url));
  const args = isDeno ? ["run", "-A", "--no-check", child] : [child];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error("the child process did not finish within 20 s"));
    }, 20_000);
    proc.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

describe("OpenTelemetry pipeline of the runtime", () => {
  it("exports spans through Deno's OTEL_DENO pipeline; a no-op where there is none", async () => {
    const traceparents: (string | undefined)[] = [];
    const target = await startHttpServer((req, res) => {
      traceparents.push(req.headers.traceparent as string | undefined);
      res.end("x");
    });
    const spans: OtlpSpan[] = [];
    const collector = await startHttpServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => body += chunk);
      req.on("end", () => {
        if (req.url === "/v1/traces") {
          const data = JSON.parse(body) as {
            resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
          };
          for (const r of data.resourceSpans) {
            for (const s of r.scopeSpans) spans.push(...s.spans);
          }
        }
        res.setHeader("content-type", "application/json");
        res.end("{}");
      });
    });
    try {
      const code = await runChild({
        OTEL_DENO: "true",
        OTEL_DENO_CONSOLE: "ignore",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_METRIC_EXPORT_INTERVAL: "60000",
        TARGET: `${target.url}/`,
      });
      assert.equal(code, 0);
      assert.equal(traceparents.length, 1);
      if ("Deno" in globalThis) {
        const parent = spans.find((s) => s.name === "parent")!;
        const client = spans.find((s) => s.name === "GET")!;
        assert.ok(parent && client, `spans exported: ${spans.map((s) => s.name)}`);
        assert.equal(client.kind, 3); // SPAN_KIND_CLIENT
        assert.equal(client.parentSpanId, parent.spanId);
        assert.equal(client.traceId, parent.traceId);
        assert.equal(traceparents[0], `00-${client.traceId}-${client.spanId}-01`);
        assert.ok(client.events.some((e) => e.name === "http.receive.start"));
        const status = client.attributes.find((a) => a.key === "http.response.status_code");
        // OTLP/JSON: JavaScript numbers may travel as intValue or doubleValue.
        assert.equal(Number(status?.value.intValue ?? status?.value.doubleValue), 200);
      } else {
        assert.equal(traceparents[0], undefined);
        assert.deepEqual(spans, []);
      }
    } finally {
      await target.close();
      await collector.close();
    }
  });
});
