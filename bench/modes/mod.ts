/**
 * Every benchmark mode, selected by its flag. Add a mode here.
 *
 * @module
 */

import { adapterCostMode } from "./adapter_cost.ts";
import { defaultMode } from "./default.ts";
import { fieldsMode } from "./fields.ts";
import { hooksCostMode } from "./hooks_cost.ts";
import { idleMemoryMode } from "./idle_memory.ts";
import { selfTestMode } from "./self_test.ts";
import { tcpInfoCostMode } from "./tcp_info_cost.ts";
import { traceCostMode } from "./trace_cost.ts";
import type { Mode } from "./types.ts";

/** The modes, default first. */
export const MODES: readonly Mode[] = [
  defaultMode,
  selfTestMode,
  traceCostMode,
  hooksCostMode,
  tcpInfoCostMode,
  idleMemoryMode,
  adapterCostMode,
  fieldsMode,
];
