import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import type { KafkaTransportOptions } from '../src/index.js';
import { KafkaTransport } from '../src/index.js';
import { resolveKafkaOptions } from '../src/kafka-options.js';

function fieldOf(options: unknown): string | undefined {
  try {
    new KafkaTransport(options as KafkaTransportOptions);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigurationError);
    return (error as ConfigurationError).field;
  }
  return undefined;
}

describe('KafkaTransport options', function () {
  it('applies defaults and touches no broker at construction', function () {
    const resolved = resolveKafkaOptions({ brokers: ['kafka-1:9092'] });
    expect(resolved.brokers).to.deep.equal(['kafka-1:9092']);
    expect(resolved.clientId).to.equal('omnibus');
    expect(resolved.partitions).to.equal(3);
    expect(resolved.replicationFactor).to.equal(undefined);
    expect(resolved.maxMessageBytes).to.equal(1_000_000);
    expect(resolved.namePrefix).to.equal('');
    expect(resolved.consumer.sessionTimeoutMs).to.equal(30_000);
    expect(resolved.consumer.partitionConcurrency).to.equal(undefined);
    expect(resolved.consumer.maxHeaders).to.equal(128);
    expect(resolved.consumer.maxHeaderBytes).to.equal(65_536);
    expect(resolved.maxRetryDelayMs).to.equal(86_400_000);
    expect(resolved.client).to.equal('kafkajs');
    expect(resolved.consumer.rebalancing).to.equal('eager');
    expect(
      resolveKafkaOptions({
        brokers: ['b:1'],
        client: 'platformatic',
        consumer: { rebalancing: 'cooperative' },
      }).consumer.rebalancing,
    ).to.equal('cooperative');
    expect(resolveKafkaOptions({ brokers: ['b:1'], client: 'platformatic' }).client).to.equal('platformatic');
    expect(new KafkaTransport({ brokers: ['nowhere.invalid:9092'] }).capabilities.maxMessageBytes).to.equal(
      1_000_000,
    );
  });

  it('reads the brokers from OMNIBUS_KAFKA_BROKERS when none are given', function () {
    const before = process.env.OMNIBUS_KAFKA_BROKERS;
    process.env.OMNIBUS_KAFKA_BROKERS = 'a:1, b:2';
    try {
      expect(resolveKafkaOptions().brokers).to.deep.equal(['a:1', 'b:2']);
    } finally {
      if (before === undefined) delete process.env.OMNIBUS_KAFKA_BROKERS;
      else process.env.OMNIBUS_KAFKA_BROKERS = before;
    }
  });

  it('accepts TLS, SASL (plain, SCRAM) and IPv6 brokers', function () {
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
      const resolved = resolveKafkaOptions({
        brokers: ['[::1]:9093', 'broker.example.com:9093'],
        ssl: { rejectUnauthorized: true },
        sasl: { mechanism, username: 'svc', password: 'secret' },
      });
      expect(resolved.sasl?.mechanism).to.equal(mechanism);
      expect(resolved.ssl).to.deep.equal({ rejectUnauthorized: true });
    }
    expect(resolveKafkaOptions({ brokers: ['b:1'], ssl: true }).ssl).to.equal(true);
  });

  const invalid: [string, unknown][] = [
    ['options', 'kafka:9092'],
    ['client', { brokers: ['a:1'], client: 'librdkafka' }],
    ['brokers', { brokers: [] }],
    ['brokers', { brokers: 'localhost:9092' }],
    ['brokers[0]', { brokers: ['localhost'] }],
    ['brokers[1]', { brokers: ['a:1', 'b:99999'] }],
    ['brokers[0]', { brokers: ['kafka://a:1'] }],
    ['clientId', { brokers: ['a:1'], clientId: ' ' }],
    ['ssl', { brokers: ['a:1'], ssl: 'yes' }],
    ['sasl', { brokers: ['a:1'], sasl: 'plain' }],
    ['sasl.mechanism', { brokers: ['a:1'], sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } }],
    [
      'sasl.mechanism',
      { brokers: ['a:1'], sasl: { mechanism: 'oauthbearer', username: 'u', password: 'p' } },
    ],
    ['sasl.username', { brokers: ['a:1'], sasl: { mechanism: 'plain', username: '', password: 'p' } }],
    ['sasl.password', { brokers: ['a:1'], sasl: { mechanism: 'scram-sha-512', username: 'u' } }],
    ['namePrefix', { brokers: ['a:1'], namePrefix: 'has space.' }],
    ['namePrefix', { brokers: ['a:1'], namePrefix: 'x'.repeat(240) }],
    ['partitions', { brokers: ['a:1'], partitions: 0 }],
    ['replicationFactor', { brokers: ['a:1'], replicationFactor: 1.5 }],
    ['maxMessageBytes', { brokers: ['a:1'], maxMessageBytes: -1 }],
    ['publishRetries', { brokers: ['a:1'], publishRetries: 0 }],
    ['deadLetterTopic', { brokers: ['a:1'], deadLetterTopic: 'dlq' }],
    ['maxRetryDelayMs', { brokers: ['a:1'], maxRetryDelayMs: 0 }],
    ['maxRetryDelayMs', { brokers: ['a:1'], maxRetryDelayMs: 2 ** 31 }],
    ['consumer.maxHeaders', { brokers: ['a:1'], consumer: { maxHeaders: 0 } }],
    ['consumer.rebalancing', { brokers: ['a:1'], client: 'platformatic', consumer: { rebalancing: 'lazy' } }],
    [
      'consumer.rebalancing',
      { brokers: ['a:1'], client: 'kafkajs', consumer: { rebalancing: 'cooperative' } },
    ],
    ['consumer.maxHeaderBytes', { brokers: ['a:1'], consumer: { maxHeaderBytes: 1.5 } }],
    ['consumer', { brokers: ['a:1'], consumer: 5 }],
    ['consumer.sessionTimeoutMs', { brokers: ['a:1'], consumer: { sessionTimeoutMs: 0 } }],
    [
      'consumer.heartbeatIntervalMs',
      { brokers: ['a:1'], consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 6_000 } },
    ],
    ['consumer.rebalanceTimeoutMs', { brokers: ['a:1'], consumer: { rebalanceTimeoutMs: 'soon' } }],
    ['consumer.maxWaitTimeMs', { brokers: ['a:1'], consumer: { maxWaitTimeMs: 0 } }],
    ['consumer.partitionConcurrency', { brokers: ['a:1'], consumer: { partitionConcurrency: 0 } }],
    [
      'consumer.maxBufferedBytesPerPartition',
      { brokers: ['a:1'], consumer: { maxBufferedBytesPerPartition: 2.5 } },
    ],
  ];
  for (const [field, options] of invalid) {
    it(`rejects a bad ${field}: ${JSON.stringify(options)}`, function () {
      expect(fieldOf(options)).to.equal(field);
    });
  }
});
