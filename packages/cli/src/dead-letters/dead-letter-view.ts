import type { Envelope } from '@omnibus/core';
import { readFailure } from '@omnibus/core';
import type { DecodedPayload } from './payload-decoder.js';

/** One dead letter as `omnibus dlq` and the console show it. */
export interface DeadLetterView {
  readonly id: string;
  readonly type: string;
  readonly key?: string;
  readonly failure?: {
    readonly code: string;
    readonly message: string;
    readonly attempts: number;
    readonly failedAt: string;
    readonly stack?: string;
    /** Where it failed: `queue:<name>` or `channel:<name>` and the group. */
    readonly destination?: string;
    readonly group?: string;
  };
  readonly headers: Readonly<Record<string, string>>;
  readonly payload?: DecodedPayload;
}

export function viewOf(envelope: Envelope, payload?: DecodedPayload): DeadLetterView {
  const failure = readFailure(envelope);
  const source = failure?.source;
  return {
    id: envelope.id,
    type: envelope.type,
    ...(envelope.key === undefined ? {} : { key: envelope.key }),
    ...(failure === undefined
      ? {}
      : {
          failure: {
            code: failure.code,
            message: failure.message,
            attempts: failure.attempts,
            failedAt: failure.failedAt.toISOString(),
            ...(failure.stack === undefined ? {} : { stack: failure.stack }),
            ...(source?.kind === 'queue' ? { destination: `queue:${source.queue}` } : {}),
            ...(source?.kind === 'subscription'
              ? { destination: `channel:${source.channel}`, group: source.group }
              : {}),
          },
        }),
    headers: envelope.headers,
    ...(payload === undefined ? {} : { payload }),
  };
}

/** One line of `dlq list`. */
export function summaryLine(view: DeadLetterView): string {
  const failure = view.failure;
  return [
    view.id,
    failure?.failedAt ?? '-',
    view.type,
    failure?.code ?? '-',
    failure === undefined
      ? ''
      : JSON.stringify(failure.message.length > 80 ? `${failure.message.slice(0, 79)}…` : failure.message),
  ].join('  ');
}
