import type { Destination, Source } from '@omnibus/core';

/**
 * Stream, subject and durable names. A channel is a stream `<P>_ch_<name>` on subject `<p>.ch.<name>`; a
 * queue a work-queue stream `<P>_q_<name>` on `<p>.q.<name>`; every dead letter lives in one work-queue
 * stream `<P>_dlq`, on `<p>.dlq.q.<queue>` or `<p>.dlq.s.<channel>.<group>`. Names are encoded so any
 * channel, queue or group name is a valid single token: characters outside `[A-Za-z0-9-]` become `_XX`
 * (hex code point), so distinct names never collide.
 */
export class NatsNames {
  constructor(readonly prefix: string) {}

  channelStream(channel: string): string {
    return `${this.prefix}_ch_${encodeToken(channel)}`;
  }

  channelSubject(channel: string): string {
    return `${this.prefix}.ch.${encodeToken(channel)}`;
  }

  queueStream(queue: string): string {
    return `${this.prefix}_q_${encodeToken(queue)}`;
  }

  queueSubject(queue: string): string {
    return `${this.prefix}.q.${encodeToken(queue)}`;
  }

  get deadLetterStream(): string {
    return `${this.prefix}_dlq`;
  }

  get deadLetterSubjects(): string {
    return `${this.prefix}.dlq.>`;
  }

  /** The one durable of a queue's stream, shared by its competing consumers. */
  get queueDurable(): string {
    return 'omnibus';
  }

  groupDurable(group: string): string {
    return `g_${encodeToken(group)}`;
  }

  deadLetterSubject(of: Exclude<Source, { kind: 'deadLetters' }>): string {
    return of.kind === 'queue'
      ? `${this.prefix}.dlq.q.${encodeToken(of.queue)}`
      : `${this.prefix}.dlq.s.${encodeToken(of.channel)}.${encodeToken(of.group)}`;
  }

  deadLetterDurable(of: Exclude<Source, { kind: 'deadLetters' }>): string {
    return of.kind === 'queue'
      ? `dlq_q_${encodeToken(of.queue)}`
      : `dlq_s_${encodeToken(of.channel)}_${encodeToken(of.group)}`;
  }

  publishSubject(destination: Destination): string {
    return destination.kind === 'channel'
      ? this.channelSubject(destination.channel)
      : this.queueSubject(destination.queue);
  }

  /** Where a source's messages are read: stream and durable consumer. */
  consumerOf(source: Source): {
    readonly stream: string;
    readonly durable: string;
    readonly subject: string;
  } {
    switch (source.kind) {
      case 'queue':
        return {
          stream: this.queueStream(source.queue),
          durable: this.queueDurable,
          subject: this.queueSubject(source.queue),
        };
      case 'subscription':
        return {
          stream: this.channelStream(source.channel),
          durable: this.groupDurable(source.group),
          subject: this.channelSubject(source.channel),
        };
      case 'deadLetters':
        return {
          stream: this.deadLetterStream,
          durable: this.deadLetterDurable(source.of),
          subject: this.deadLetterSubject(source.of),
        };
    }
  }
}

const PLAIN_TOKEN = /^[A-Za-z0-9-]*$/;

export function encodeToken(name: string): string {
  // Most names need no escaping; this runs for every publish.
  if (PLAIN_TOKEN.test(name)) return name;
  let out = '';
  for (const char of name) {
    out += /[A-Za-z0-9-]/.test(char) ? char : `_${char.codePointAt(0)!.toString(16).toUpperCase()}_`;
  }
  return out;
}
