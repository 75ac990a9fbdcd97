// Run by pipeline_test.ts in a process of its own: instruments a client with the global
// OpenTelemetry providers (whatever the runtime registered) and fetches TARGET inside a span.
import { trace } from "@opentelemetry/api";
import process from "node:process";
import { Client } from "../../mod.ts";
import { instrument } from "../../otel.ts";

const client = new Client();
const undo = instrument(client);
const tracer = trace.getTracer("otel-child");
await tracer.startActiveSpan("parent", async (span) => {
  const response = await client.fetch(process.env.TARGET!);
  await response.text();
  span.end();
});
undo();
await client.close();
