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
  /** Short names for long ids (order UUIDs): `#1`, `#2`, ... in order of first mention. */
  readonly #names = new Map<string, string>();

  record(who: string, what: string): void {
    this.entries.push({ atMs: Date.now() - this.#start, who, what });
  }

  /** Names an order for the timeline, e.g. `#3 dave-flaky`. */
  name(orderId: string, label: string): void {
    this.#names.set(orderId, label);
  }

  label(orderId: string | undefined): string {
    if (orderId === undefined) return '?';
    return this.#names.get(orderId) ?? `…${orderId.slice(-6)}`;
  }

  /** Middleware of one service's bus: records every handling attempt and its outcome. */
  middleware(service: string): Middleware {
    return async (ctx, next) => {
      const who = ctx.handlerContext.group === undefined ? service : `${service}/${ctx.handlerContext.group}`;
      const what = `${ctx.envelope.type} for ${this.label(ctx.envelope.key)}`;
      const attempt = ctx.handlerContext.attempt > 1 ? ` (attempt ${ctx.handlerContext.attempt})` : '';
      this.record(who, `handles ${what}${attempt}`);
      try {
        await next();
      } catch (error) {
        const e = toOmnibusError(error);
        this.record(
          who,
          `  failed: ${e.message} [${e.code}, ${e.retriable ? 'retriable' : 'not retriable'}]`,
        );
        throw error;
      }
    };
  }

  format(): string {
    const width = Math.max(...this.entries.map((e) => e.who.length));
    return this.entries
      .map((e) => `${String(e.atMs).padStart(6)} ms  ${e.who.padEnd(width)}  ${e.what}`)
      .join('\n');
  }
}
