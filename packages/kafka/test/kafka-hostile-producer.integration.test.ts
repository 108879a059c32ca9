import 'reflect-metadata';
import type { Producer } from 'kafkajs';
import type { Destination, Envelope, Transport } from '@omnibus/core';
import { describeIntegration, runSecurityConformance } from '@omnibus/core/testing';
import type { KafkaTransport } from '../src/index.js';
import { deleteTestTopics, probeKafka, rawKafka, testTransport } from './kafka-test-support.js';

/**
 * #16.6 with a plain kafkajs producer on the main topics: `omnibus-attempt` (honoured only on a group's
 * retry topic) does not shorten the retry budget, and `omnibus-target-group` does not make a group drop
 * the message.
 */
describeIntegration('kafka hostile producers', probeKafka, () => {
  let producer: Producer | undefined;
  before(async function () {
    producer = rawKafka().producer();
    await producer.connect();
  });
  after(async function () {
    this.timeout(60_000);
    await producer?.disconnect();
    await deleteTestTopics();
  });

  async function publish(transport: Transport, destination: Destination, envelope: Envelope): Promise<void> {
    const names = (transport as KafkaTransport).names;
    const headers: Record<string, string> = { ce_id: envelope.id, ce_type: envelope.type };
    for (const [name, value] of Object.entries(envelope.headers)) {
      if (name === 'datacontenttype') headers['content-type'] = value;
      else headers[name.includes('-') ? name : `ce_${name}`] = value;
    }
    await producer!.send({
      topic:
        destination.kind === 'channel'
          ? names.channelTopic(destination.channel)
          : names.queueTopic(destination.queue),
      messages: [{ value: Buffer.from(envelope.body), headers }],
    });
  }

  runSecurityConformance('kafka kafkajs', {
    createTransport: () => testTransport(),
    only: 'forged headers',
    publishForeign: publish,
  });
});
