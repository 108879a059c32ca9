import type { Transport } from '@omnibus/core';
import { MemoryTransport } from '@omnibus/core';
import { Amqp10Transport } from '@omnibus/amqp10';
import { SqsSnsTransport } from '@omnibus/aws';
import { PubSubTransport } from '@omnibus/gcp-pubsub';
import { KafkaTransport } from '@omnibus/kafka';
import { NatsTransport } from '@omnibus/nats';
import { RabbitMqTransport } from '@omnibus/rabbitmq';

import type { TransportName } from './transport-names.js';

/** Where the brokers are; the field names match `@omnibus/lab`'s `BrokerEnv`, so the sample passes its own. */
export interface BrokerAddresses {
  /** `OMNIBUS_RABBITMQ_URL`. */
  readonly rabbitmqUrl: string;
  /** `OMNIBUS_KAFKA_BROKERS`, comma-separated. */
  readonly kafkaBrokers: readonly string[];
  /** `OMNIBUS_AWS_ENDPOINT`: one endpoint for SQS and SNS (moto, LocalStack). */
  readonly awsEndpoint: string;
  /** `PUBSUB_EMULATOR_HOST`. */
  readonly pubsubEmulatorHost: string;
  /** `OMNIBUS_NATS_URL`. */
  readonly natsUrl: string;
  /** `OMNIBUS_AMQP10_URL`. */
  readonly amqp10Url: string;
}

/** What {@link transportFromConfig} needs: the services and the tools read the same names. */
export interface TransportConfig {
  /** `OMNIBUS_TRANSPORT`. */
  readonly transport: TransportName;
  readonly brokers: BrokerAddresses;
  /** `OMNIBUS_NAME_PREFIX`: put before every topic, queue and subscription name ('' for none). */
  readonly namePrefix: string;
  /** `OMNIBUS_PUBSUB_PROJECT`. */
  readonly pubsubProject: string;
  /** The Kafka client id (a service's name; `omnibus-cli` for the tools). */
  readonly clientId: string;
}

/**
 * The transport `config.transport` names. `memory` is one process's bus: pass the `MemoryTransport` the
 * services of that process share (a new one otherwise).
 */
export function transportFromConfig(config: TransportConfig, memory?: MemoryTransport): Transport {
  const { brokers, namePrefix } = config;
  const prefix = namePrefix === '' ? {} : { namePrefix };
  switch (config.transport) {
    case 'memory':
      return memory ?? new MemoryTransport();
    case 'rabbitmq':
      return new RabbitMqTransport({ url: brokers.rabbitmqUrl, ...prefix });
    case 'kafka':
      return new KafkaTransport({ brokers: brokers.kafkaBrokers, clientId: config.clientId, ...prefix });
    case 'aws':
      return new SqsSnsTransport({
        endpoint: brokers.awsEndpoint,
        region: 'us-east-1',
        // moto accepts any credentials; on AWS leave the endpoint unset and use the default chain instead.
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        visibilityTimeoutSeconds: 10,
        waitTimeSeconds: 1,
        ...prefix,
      });
    case 'pubsub':
      return new PubSubTransport({
        projectId: config.pubsubProject,
        emulatorHost: brokers.pubsubEmulatorHost,
        ...prefix,
      });
    case 'nats':
      return new NatsTransport({ servers: brokers.natsUrl, ...prefix });
    case 'amqp10':
      return new Amqp10Transport({ url: brokers.amqp10Url, ...prefix });
  }
}
