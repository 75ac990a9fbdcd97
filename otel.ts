/**
 * OpenTelemetry for wirefetch: `instrument(client)` gives every `fetch` of a client a `CLIENT`
 * span and records the HTTP client metrics, following the HTTP semantic conventions, through
 * `@opentelemetry/api` (the SDK stays your choice; nothing is registered globally).
 *
 * On Deno with `OTEL_DENO=true`, Deno registers its own providers with the API, so the spans and
 * metrics join Deno's pipeline (and `Deno.serve` spans become their parents) with no setup.
 *
 * @example With the OpenTelemetry SDK
 * ```ts ignore
 * import { context, propagation, trace } from "@opentelemetry/api";
 * import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
 * import { W3CTraceContextPropagator } from "@opentelemetry/core";
 * import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter } from "@opentelemetry/sdk-trace-base";
 * import { fetch } from "@wirefetch/fetch";
 * import { instrument } from "@wirefetch/fetch/otel";
 *
 * context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
 * propagation.setGlobalPropagator(new W3CTraceContextPropagator());
 * trace.setGlobalTracerProvider(
 *   new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new ConsoleSpanExporter())] }),
 * );
 * instrument(); // the default client, global providers
 * await (await fetch("http://127.0.0.1:8080/")).text();
 * ```
 *
 * @module
 */

export { instrument, type InstrumentOptions } from "./src/otel/instrument.ts";
