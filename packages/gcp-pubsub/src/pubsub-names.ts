import type { Destination, QueueSource, Source, SubscriptionSource } from '@omnibus/core';
import { ConfigurationError } from '@omnibus/core';

/** Where one source lives on Pub/Sub: the topic it reads and the subscription it reads through. */
export interface SourceResources {
  readonly topic: string;
  readonly subscription: string;
  /** The topic that takes this source's dead letters. */
  readonly deadLetterTopic: string;
}

/** Characters Pub/Sub allows in ids that we also leave as they are; the rest is percent-encoded. */
const PLAIN = /[A-Za-z0-9._-]/;
const ALL_PLAIN = /^[A-Za-z0-9._-]*$/;
const VALID_ID = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

/**
 * The topology mapping, as ids (not full resource paths):
 *
 * | Omnibus | Pub/Sub |
 * |---|---|
 * | channel `C` | topic `<prefix>C` |
 * | subscriber group `G` of `C` | subscription `<prefix>C~G` on that topic |
 * | command queue `Q` | topic and one shared subscription, both `<prefix>Q+queue` |
 * | dead letters of a source `S` | topic and subscription, both `<S's subscription>+dlq` |
 *
 * Channel, group and queue names are percent-encoded outside `[A-Za-z0-9._-]`, so `~` and `+` only ever
 * appear as the separators above and two different sources never share an id.
 */
export class PubSubNames {
  /** Topic ids by channel and by queue name: computed once, as every publish asks. */
  readonly #channelTopics = new Map<string, string>();
  readonly #queueTopics = new Map<string, string>();

  constructor(readonly prefix: string) {}

  channelTopic(channel: string): string {
    let id = this.#channelTopics.get(channel);
    if (id === undefined) {
      id = this.#id('channel', this.prefix + encodeComponent(channel));
      this.#channelTopics.set(channel, id);
    }
    return id;
  }

  queueTopic(queue: string): string {
    let id = this.#queueTopics.get(queue);
    if (id === undefined) {
      id = this.#id('queue', `${this.prefix}${encodeComponent(queue)}+queue`);
      this.#queueTopics.set(queue, id);
    }
    return id;
  }

  destinationTopic(destination: Destination): string {
    return destination.kind === 'channel'
      ? this.channelTopic(destination.channel)
      : this.queueTopic(destination.queue);
  }

  groupSubscription(channel: string, group: string): string {
    return this.#id('group', `${this.prefix}${encodeComponent(channel)}~${encodeComponent(group)}`);
  }

  deadLetterTopic(of: SubscriptionSource | QueueSource): string {
    return this.#id('deadLetters', `${this.resources(of).subscription}+dlq`);
  }

  /** The topic and subscription a consumer of `source` uses. */
  resources(source: Source): SourceResources {
    switch (source.kind) {
      case 'subscription': {
        const subscription = this.groupSubscription(source.channel, source.group);
        return {
          topic: this.channelTopic(source.channel),
          subscription,
          deadLetterTopic: this.#id('deadLetters', `${subscription}+dlq`),
        };
      }
      case 'queue': {
        const topic = this.queueTopic(source.queue);
        return { topic, subscription: topic, deadLetterTopic: this.#id('deadLetters', `${topic}+dlq`) };
      }
      case 'deadLetters': {
        // A dead letter that fails again stays in the same dead-letter topic.
        const topic = this.deadLetterTopic(source.of);
        return { topic, subscription: topic, deadLetterTopic: topic };
      }
    }
  }

  #id(field: string, id: string): string {
    if (!VALID_ID.test(id) || id.toLowerCase().startsWith('goog')) {
      throw new ConfigurationError(
        field,
        `${JSON.stringify(id)} is not a valid Pub/Sub id (3-255 characters, starting with a letter, ` +
          "not 'goog'); set namePrefix when names may start with a digit",
      );
    }
    return id;
  }
}

/** Percent-encodes every UTF-8 byte outside `[A-Za-z0-9._-]`. */
export function encodeComponent(name: string): string {
  if (ALL_PLAIN.test(name)) return name;
  let out = '';
  for (const char of name) {
    if (PLAIN.test(char)) {
      out += char;
    } else {
      for (const byte of Buffer.from(char, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}
