import type { Middleware } from '@omnibus/core';
import { toOmnibusError } from '@omnibus/core';

export interface TimelineEntry {
  readonly atMs: number;
  readonly who: string;
  readonly what: string;
}

/** A readable record of what happened, in order: the demo's output. */
export class Timeline {
  readonly entries: TimelineEntry[] = [];
  readonly #start = Date.now();

  record(who: string, what: string): void {
    this.entries.push({ atMs: Date.now() - this.#start, who, what });
  }

  /** Middleware that records every handling attempt and its outcome. */
  readonly middleware: Middleware = async (ctx, next) => {
    const who = ctx.message.group ?? 'payment-service';
    const about = ctx.envelope.key ?? `…${ctx.envelope.id.slice(-6)}`;
    this.record(who, `handles ${ctx.envelope.type} for ${about} (attempt ${ctx.message.attempt})`);
    try {
      await next();
    } catch (error) {
      const e = toOmnibusError(error);
      this.record(who, `  failed: ${e.message} [${e.code}, ${e.retriable ? 'retriable' : 'not retriable'}]`);
      throw error;
    }
  };

  format(): string {
    const width = Math.max(...this.entries.map((e) => e.who.length));
    return this.entries
      .map((e) => `${String(e.atMs).padStart(6)} ms  ${e.who.padEnd(width)}  ${e.what}`)
      .join('\n');
  }
}
