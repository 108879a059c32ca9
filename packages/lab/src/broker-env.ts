/**
 * Where the broker lab's services are. Each address comes from its environment variable, else the
 * address where `scripts/brokers up` (or `docker compose up`) serves it. See docs/brokers.md.
 */
export interface BrokerEnv {
  /** `OMNIBUS_RABBITMQ_URL`, an AMQP 0-9-1 URL. */
  readonly rabbitmqUrl: string;
  /** `OMNIBUS_KAFKA_BROKERS`, comma-separated `host:port` bootstrap brokers. */
  readonly kafkaBrokers: readonly string[];
  /** `OMNIBUS_AWS_ENDPOINT`, one endpoint serving both SQS and SNS (moto). */
  readonly awsEndpoint: string;
  /** `PUBSUB_EMULATOR_HOST`, the Pub/Sub emulator's `host:port`, the variable Google's clients read. */
  readonly pubsubEmulatorHost: string;
  /** `OMNIBUS_POSTGRES_URL`, a PostgreSQL connection URL. */
  readonly postgresUrl: string;
  /** `OMNIBUS_AMQP10_URL`, an AMQP 1.0 URL (ActiveMQ Artemis; 5672 is RabbitMQ's). */
  readonly amqp10Url: string;
  /** `OMNIBUS_NATS_URL`, a NATS server URL (JetStream enabled). */
  readonly natsUrl: string;
}

export const defaultBrokerEnv: BrokerEnv = Object.freeze({
  rabbitmqUrl: 'amqp://guest:guest@127.0.0.1:5672',
  kafkaBrokers: Object.freeze(['127.0.0.1:9092']),
  awsEndpoint: 'http://127.0.0.1:4566',
  pubsubEmulatorHost: '127.0.0.1:8085',
  postgresUrl: 'postgres://postgres@127.0.0.1:5432/omnibus',
  amqp10Url: 'amqp://omnibus:omnibus@127.0.0.1:5673',
  natsUrl: 'nats://127.0.0.1:4222',
});

/** Reads the addresses from `env`; a variable that is unset or blank keeps the default. */
export function readBrokerEnv(env: NodeJS.ProcessEnv = process.env): BrokerEnv {
  const read = (name: string, fallback: string): string => env[name]?.trim() || fallback;
  const kafkaBrokers = env.OMNIBUS_KAFKA_BROKERS?.split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  return Object.freeze({
    rabbitmqUrl: read('OMNIBUS_RABBITMQ_URL', defaultBrokerEnv.rabbitmqUrl),
    kafkaBrokers: Object.freeze(kafkaBrokers?.length ? kafkaBrokers : [...defaultBrokerEnv.kafkaBrokers]),
    awsEndpoint: read('OMNIBUS_AWS_ENDPOINT', defaultBrokerEnv.awsEndpoint),
    pubsubEmulatorHost: read('PUBSUB_EMULATOR_HOST', defaultBrokerEnv.pubsubEmulatorHost),
    postgresUrl: read('OMNIBUS_POSTGRES_URL', defaultBrokerEnv.postgresUrl),
    amqp10Url: read('OMNIBUS_AMQP10_URL', defaultBrokerEnv.amqp10Url),
    natsUrl: read('OMNIBUS_NATS_URL', defaultBrokerEnv.natsUrl),
  });
}

/** The addresses of this process's environment, read once at import. */
export const brokerEnv: BrokerEnv = readBrokerEnv();
