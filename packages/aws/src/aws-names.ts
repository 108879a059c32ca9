import { createHash } from 'node:crypto';
import { ConfigurationError } from '@omnibus/core';

/** SQS queue names: 1–80 characters including `.fifo` (CreateQueue API reference). */
export const MAX_QUEUE_NAME = 80;
/** SNS topic names: 1–256 characters including `.fifo` (CreateTopic API reference). */
export const MAX_TOPIC_NAME = 256;
export const FIFO_SUFFIX = '.fifo';
export const DEAD_LETTER_SUFFIX = '-dlq';
/** Between channel and group in a subscriber group's queue name: `orders--billing`. */
export const GROUP_SEPARATOR = '--';

/**
 * A name used verbatim: AWS characters only, no `--` (the group separator), no leading or trailing `-`,
 * and not ending in `-dlq` (a dead-letter queue's suffix), so no two names Omnibus makes can collide.
 */
const VERBATIM = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/;

/**
 * The AWS names of Omnibus's topics and queues, after SQS/SNS rules:
 * - channel `orders` → topic `<prefix>orders` (`.fifo` when FIFO);
 * - subscriber group `billing` on it → queue `<prefix>orders--billing`;
 * - command queue `payments` → queue `<prefix>payments`;
 * - every queue's dead-letter queue → `<queue>-dlq` (`.fifo` when FIFO; a FIFO queue needs a FIFO DLQ).
 *
 * A name that is not valid as it is (a `.`, `:`, a space, `--`...) is sanitised: the offending characters
 * become `_` and an 8-hex-digit hash of the original name is appended (`orders.eu` → `orders_eu-3f9a1c2b`),
 * so two different names never share a queue. A name still too long for AWS is a `ConfigurationError`.
 */
export class AwsNames {
  constructor(readonly prefix: string) {}

  topic(channel: string, fifo: boolean): string {
    return this.#limit(
      `${this.prefix}${segment(channel, 'channel')}`,
      fifo,
      MAX_TOPIC_NAME,
      'channel',
      channel,
    );
  }

  commandQueue(queue: string, fifo: boolean): string {
    return this.#queue(`${this.prefix}${segment(queue, 'queue')}`, fifo, 'queue', queue);
  }

  subscriptionQueue(channel: string, group: string, fifo: boolean): string {
    const base = `${this.prefix}${segment(channel, 'channel')}${GROUP_SEPARATOR}${segment(group, 'group')}`;
    return this.#queue(base, fifo, 'group', `${channel}/${group}`);
  }

  /** The dead-letter queue of a queue named by this class. */
  deadLetterQueue(queueName: string): string {
    const fifo = queueName.endsWith(FIFO_SUFFIX);
    const base = fifo ? queueName.slice(0, -FIFO_SUFFIX.length) : queueName;
    return `${base}${DEAD_LETTER_SUFFIX}${fifo ? FIFO_SUFFIX : ''}`;
  }

  /** Checks that the queue and its dead-letter queue both fit, so provisioning never half-succeeds. */
  #queue(base: string, fifo: boolean, field: string, original: string): string {
    this.#limit(`${base}${DEAD_LETTER_SUFFIX}`, fifo, MAX_QUEUE_NAME, field, original);
    return `${base}${fifo ? FIFO_SUFFIX : ''}`;
  }

  #limit(base: string, fifo: boolean, max: number, field: string, original: string): string {
    const name = `${base}${fifo ? FIFO_SUFFIX : ''}`;
    if (name.length > max) {
      throw new ConfigurationError(
        field,
        `'${original}' makes the AWS name '${name}' (${name.length} characters), over the limit of ${max}; ` +
          'use a shorter name or namePrefix',
      );
    }
    return name;
  }
}

/** One user-given part of a name: verbatim when valid, else sanitised with a hash (see {@link AwsNames}). */
export function segment(name: string, field: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ConfigurationError(field, 'must be a non-empty string');
  }
  if (VERBATIM.test(name) && !name.includes(GROUP_SEPARATOR) && !name.endsWith(DEAD_LETTER_SUFFIX))
    return name;
  const cleaned = name
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${cleaned.length > 0 ? cleaned : 'n'}-${shortHash(name)}`;
}

function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}
