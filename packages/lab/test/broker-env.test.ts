import { expect } from 'chai';
import { defaultBrokerEnv, readBrokerEnv } from '../src/index.js';

describe('readBrokerEnv', () => {
  it('gives the addresses scripts/brokers serves when no variable is set', () => {
    expect(readBrokerEnv({})).to.deep.equal({
      rabbitmqUrl: 'amqp://guest:guest@127.0.0.1:5672',
      kafkaBrokers: ['127.0.0.1:9092'],
      awsEndpoint: 'http://127.0.0.1:4566',
      pubsubEmulatorHost: '127.0.0.1:8085',
      postgresUrl: 'postgres://postgres@127.0.0.1:5432/omnibus',
      amqp10Url: 'amqp://omnibus:omnibus@127.0.0.1:5673',
      natsUrl: 'nats://127.0.0.1:4222',
    });
  });

  it('reads each address from its variable', () => {
    const env = readBrokerEnv({
      OMNIBUS_RABBITMQ_URL: 'amqp://u:p@rabbit:5672/vh',
      OMNIBUS_KAFKA_BROKERS: 'k1:9092, k2:9092,',
      OMNIBUS_AWS_ENDPOINT: 'http://moto:5000',
      PUBSUB_EMULATOR_HOST: 'pubsub:8681',
      OMNIBUS_POSTGRES_URL: 'postgres://app@db:5433/app',
      OMNIBUS_AMQP10_URL: 'amqps://u:p@artemis:5671',
      OMNIBUS_NATS_URL: 'tls://nats.internal:4222',
    });
    expect(env).to.deep.equal({
      rabbitmqUrl: 'amqp://u:p@rabbit:5672/vh',
      kafkaBrokers: ['k1:9092', 'k2:9092'],
      awsEndpoint: 'http://moto:5000',
      pubsubEmulatorHost: 'pubsub:8681',
      postgresUrl: 'postgres://app@db:5433/app',
      amqp10Url: 'amqps://u:p@artemis:5671',
      natsUrl: 'tls://nats.internal:4222',
    });
  });

  it('keeps the default for a blank variable', () => {
    const env = readBrokerEnv({ OMNIBUS_KAFKA_BROKERS: ' , ', OMNIBUS_POSTGRES_URL: '  ' });
    expect(env.kafkaBrokers).to.deep.equal(defaultBrokerEnv.kafkaBrokers);
    expect(env.postgresUrl).to.equal(defaultBrokerEnv.postgresUrl);
  });
});
