/** Where a replay stands: how many sent, out of how many (when counted first), since when. */
export interface ProgressState {
  readonly done: number;
  readonly total: number | undefined;
  readonly elapsedMs: number;
}

const BAR_WIDTH = 24;

function duration(ms: number): string {
  const seconds = Math.round(ms / 1_000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes}m${String(seconds % 60).padStart(2, '0')}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

function rateOf(state: ProgressState): number {
  return state.elapsedMs > 0 ? (state.done * 1_000) / state.elapsedMs : 0;
}

/** One terminal line: `[#########---------------] 12/32  4.0/s  ETA 5s` (no bar nor ETA without a total). */
export function renderProgress(state: ProgressState): string {
  const rate = rateOf(state);
  const speed = `${rate.toFixed(1)}/s`;
  if (state.total === undefined || state.total === 0) return `${state.done} replayed  ${speed}`;
  const share = Math.min(1, state.done / state.total);
  const filled = Math.round(share * BAR_WIDTH);
  const left = Math.max(0, state.total - state.done);
  const eta = rate > 0 ? duration((left / rate) * 1_000) : '?';
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${state.done}/${state.total}  ${speed}  ETA ${eta}`;
}

export interface ProgressOutput {
  /** A terminal: the bar is redrawn in place on every replay. */
  readonly tty: boolean;
  /** `--json`: no progress at all, stdout and stderr stay for the result. */
  readonly json: boolean;
  /** Writes raw text (a terminal: `\r` redraws). */
  readonly write: (text: string) => void;
  /** Off a terminal: one plain line per this many replays. */
  readonly every: number;
  readonly now?: () => number;
}

/** Reports each replay: a bar on a terminal, a plain line every `every` replays elsewhere, nothing with JSON. */
export function replayProgress(output: ProgressOutput, total: number | undefined) {
  const now = output.now ?? Date.now;
  const started = now();
  let drawn = false;
  return {
    replayed(done: number): void {
      if (output.json) return;
      const state = { done, total, elapsedMs: now() - started };
      if (output.tty) {
        output.write(`\r${renderProgress(state)}\x1b[K`);
        drawn = true;
      } else if (done % output.every === 0) {
        output.write(`${renderProgress(state)}\n`);
      }
    },
    /** Ends the bar's line, so what follows starts on its own. */
    finish(): void {
      if (drawn) output.write('\n');
    },
  };
}
