import type { Transport } from '@omnibus/core';
import { MemoryTransport } from '@omnibus/core';
import { Amqp10Transport } from '@omnibus/amqp10';
import { SqsSnsTransport } from '@omnibus/aws';
import { PubSubTransport } from '@omnibus/gcp-pubsub';
import { KafkaTransport } from '@omnibus/kafka';
import { NatsTransport } from '@omnibus/nats';
import { RabbitMqTransport } from '@omnibus/rabbitmq';
import type { SampleConfig } from './sample-config.js';

/**
 * The transport `config.transport` names, on the lab's addresses. `memory` is one process's bus: pass the
 * `MemoryTransport` the services of that process share (a new one otherwise).
 */
export function createTransport(config: SampleConfig, memory?: MemoryTransport): Transport {
  const { brokers, namePrefix } = config;
  const prefix = namePrefix === '' ? {} : { namePrefix };
  switch (config.transport) {
    case 'memory':
      return memory ?? new MemoryTransport();
    case 'rabbitmq':
      return new RabbitMqTransport({ url: brokers.rabbitmqUrl, ...prefix });
    case 'kafka':
      return new KafkaTransport({ brokers: brokers.kafkaBrokers, clientId: config.service, ...prefix });
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
