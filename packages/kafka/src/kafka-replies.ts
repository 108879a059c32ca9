import type { Envelope } from '@omnibus/core';
import { TransportError, exponential, retry, toOmnibusError, uuidv7 } from '@omnibus/core';
import type { ReplyAddress, ReplySink } from '@omnibus/core/transport';
import type { GroupMember, KafkaClient } from './kafka-client.js';
import type { OutgoingRecord } from './kafka-codec.js';
import { fromKafkaRecord, toKafkaMessage } from './kafka-codec.js';
import type { ResolvedKafkaOptions } from './kafka-options.js';
import type { KafkaProvisioner } from './kafka-provisioner.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** How long opening waits for the reply consumer to join before giving up. */
const JOIN_TIMEOUT_MS = 30_000;

export interface KafkaRepliesDeps {
  readonly client: KafkaClient;
  readonly provisioner: KafkaProvisioner;
  readonly options: ResolvedKafkaOptions;
  readonly send: (topic: string, records: readonly OutgoingRecord[]) => Promise<void>;
}

/**
 * Reply addresses on Kafka: one shared topic, `<prefix>omnibus.replies`, read by every asking instance
 * with a consumer group of its own (`<topic>.<uuid>`) that starts at the topic's end; a reply's record key
 * is the instance's uuid, and an instance keeps only the records with its key. Not a topic per
 * instance: Kafka cannot expire a topic, so every crashed instance would leave one behind, while here
 * it leaves only its group's committed offsets, which the broker drops after
 * `offsets.retention.minutes`. The price is that each asking instance reads every reply; the records
 * of others are skipped after their key, uncounted. An address is `<topic>#<uuid>`.
 */
export class KafkaReplies {
  readonly #deps: KafkaRepliesDeps;
  readonly #topic: string;

  constructor(deps: KafkaRepliesDeps) {
    this.#deps = deps;
    this.#topic = `${deps.options.namePrefix}omnibus.replies`;
  }

  async open(sink: ReplySink): Promise<ReplyAddress> {
    const { client, provisioner, options } = this.#deps;
    const topic = this.#topic;
    await provisioner.createTopics([topic]);
    const id = uuidv7();
    const groupId = `${topic}.${id}`;
    // Start at the end: a new group would otherwise read every reply ever sent. Just after the topic is
    // made, a client's metadata may still name no leader ("not the leader"): that passes.
    await retry(async () => client.commitForEmptyGroup(groupId, topic, await client.endOffsets(topic)), {
      attempts: 10,
      backoff: exponential({ initialMs: 100, maxMs: 2_000 }),
      retriable: () => true,
    });
    let joined!: () => void;
    const ready = new Promise<void>((resolve) => (joined = resolve));
    let member: GroupMember | undefined;
    member = client.member(
      { groupId, topics: [topic], ...options.consumer },
      {
        joined: () => joined(),
        rebalancing: () => undefined,
        crashed: () => undefined,
        fetched: (_topic, partition, records, lastOffset) => {
          for (const record of records) {
            if (record.key?.toString('utf8') !== id) continue; // another instance's reply
            try {
              const decoded = fromKafkaRecord(record, {
                fromRetryTopic: false,
                latestDueAt: 0,
                maxHeaders: options.consumer.maxHeaders,
                maxHeaderBytes: options.consumer.maxHeaderBytes,
              });
              sink(decoded.envelope);
            } catch (error) {
              options.logger.warn({ topic, error: toOmnibusError(error).message }, 'reply dropped');
            }
          }
          // Committed so a restarted member does not read these replies again; not awaited.
          member
            ?.commit([{ topic, partition, offset: lastOffset + 1, metadata: null }])
            .catch(() => undefined);
        },
      },
    );
    const running = member
      .run()
      .catch((error: unknown) =>
        options.logger.warn({ topic, error: toOmnibusError(error).message }, 'reply consumer stopped'),
      );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TransportError(`reply consumer ${groupId} did not join`, { code: 'JOIN_TIMEOUT' })),
        JOIN_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([ready, timedOut]);
    } catch (error) {
      await member.disconnect().catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return {
      address: `${topic}#${id}`,
      close: async () => {
        const open = member;
        member = undefined;
        if (open === undefined) return;
        open.stopFetching();
        await open.disconnect().catch(() => undefined);
        await running;
      },
    };
  }

  publish(address: string, reply: Envelope): Promise<void> {
    const [topic, id] = typeof address === 'string' ? address.split('#', 2) : [];
    if (topic !== this.#topic || id === undefined || !UUID.test(id)) {
      return Promise.reject(
        new TransportError(`${JSON.stringify(address)} is not a Kafka reply address of this prefix`, {
          code: 'INVALID_REPLY_ADDRESS',
          retriable: false,
        }),
      );
    }
    return this.#deps.send(topic, [toKafkaMessage({ ...reply, key: id })]);
  }
}
