/**
 * httpstat's download progress bar (`-o FILE` on a terminal): bytes so far, the total when the
 * response says it (Content-Length), the rate and the time left, redrawn in place on stderr.
 *
 * @module
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * Bytes for humans, binary units: `1536` → `"1.5 KiB"`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./progress.ts";
 * console.log(formatBytes(1536)); // "1.5 KiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * Seconds as `m:ss` (or `h:mm:ss`): `75` → `"1:15"`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * console.log(formatDuration(75)); // "1:15"
 * ```
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * One line of the bar, without the carriage return: with a total,
 * `[=========>          ]  45%  4.5 MiB / 10.0 MiB  2.1 MiB/s  ETA 0:03`; without,
 * `4.5 MiB  2.1 MiB/s`.
 *
 * @example
 * ```ts
 * import { progressLine } from "./progress.ts";
 * console.log(progressLine(512, 1024, 1)); // "[==========>          ]  50%  512 B / 1.0 KiB  512 B/s  ETA 0:01"
 * ```
 */
export function progressLine(bytes: number, total: number | null, seconds: number): string {
  const rate = seconds > 0 ? bytes / seconds : 0;
  const rateText = `${formatBytes(Math.round(rate))}/s`;
  if (total === null || total <= 0) return `${formatBytes(bytes)}  ${rateText}`;
  const fraction = Math.min(1, bytes / total);
  const width = 20;
  const filled = Math.floor(fraction * width);
  const bar = "=".repeat(filled) + (filled < width ? ">" : "") +
    " ".repeat(Math.max(0, width - filled - 1));
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const eta = rate > 0 ? formatDuration((total - bytes) / rate) : "--:--";
  return `[${bar}] ${percent}  ${formatBytes(bytes)} / ${
    formatBytes(total)
  }  ${rateText}  ETA ${eta}`;
}

/**
 * Draws the bar on a terminal: at most every `interval` ms while bytes arrive, and once more at
 * the end (then a newline). Nothing is drawn when `enabled` is false.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * const bar = new ProgressBar((s) => console.error(s), 2048, true);
 * bar.update(1024);
 * bar.done();
 * ```
 */
export class ProgressBar {
  readonly #write: (text: string) => void;
  readonly #total: number | null;
  readonly #enabled: boolean;
  readonly #interval: number;
  readonly #start = performance.now();
  #bytes = 0;
  #drawnAt = -Infinity;
  #width = 0;

  /**
   * A bar for a body of `total` bytes (null when unknown), drawn with `write`.
   *
   * @example
   * ```ts
   * import { ProgressBar } from "./progress.ts";
   * new ProgressBar((s) => console.error(s), null, false);
   * ```
   */
  constructor(
    write: (text: string) => void,
    total: number | null,
    enabled: boolean,
    interval = 100,
  ) {
    this.#write = write;
    this.#total = total;
    this.#enabled = enabled;
    this.#interval = interval;
  }

  /**
   * Counts `chunkBytes` more bytes, and redraws when the last drawing is old enough.
   *
   * @example
   * ```ts
   * import { ProgressBar } from "./progress.ts";
   * new ProgressBar((s) => console.error(s), 10, true).update(5);
   * ```
   */
  update(chunkBytes: number): void {
    this.#bytes += chunkBytes;
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#drawnAt >= this.#interval) {
      this.#drawnAt = now;
      this.#draw(now);
    }
  }

  /**
   * Draws the final state and ends the line.
   *
   * @example
   * ```ts
   * import { ProgressBar } from "./progress.ts";
   * new ProgressBar((s) => console.error(s), 10, true).done();
   * ```
   */
  done(): void {
    if (!this.#enabled) return;
    this.#draw(performance.now());
    this.#write("\n");
  }

  #draw(now: number): void {
    const line = progressLine(this.#bytes, this.#total, (now - this.#start) / 1000);
    // Pad over a longer previous line; \r returns to the start of the terminal line.
    this.#write(`\r${line}${" ".repeat(Math.max(0, this.#width - line.length))}`);
    this.#width = line.length;
  }
}
