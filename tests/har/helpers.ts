// HAR 1.2 validation with the npm packages har-schema and ajv (devDependencies).
import { createRequire } from "node:module";
import { Ajv } from "ajv";
import * as formats from "ajv-formats";

type Schema = Record<string, unknown>;

const require = createRequire(import.meta.url);
const schemas = require("har-schema") as Record<string, Schema>;

// har-schema is written for JSON Schema draft-06 and uses a non-standard "min" keyword: drop
// the $schema (ajv 8 speaks draft-07, a superset for these schemas) and allow unknown keywords.
const ajv = new Ajv({ strict: false, allErrors: true });
const addFormats = ((formats as { default?: unknown }).default ?? formats) as (a: Ajv) => void;
addFormats(ajv);
for (const schema of Object.values(schemas)) {
  const { $schema: _, ...rest } = schema;
  ajv.addSchema(rest);
}
const validateHar = ajv.getSchema("har.json#")!;

/** Throws with ajv's messages unless `har` is valid HAR 1.2. */
export function assertValidHar(har: unknown): void {
  // Through JSON, as a file would be: what matters is what JSON.stringify writes.
  const parsed = JSON.parse(JSON.stringify(har));
  if (!validateHar(parsed)) {
    throw new Error(`invalid HAR: ${ajv.errorsText(validateHar.errors, { dataVar: "har" })}`);
  }
}
