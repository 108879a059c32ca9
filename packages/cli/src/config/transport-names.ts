/** The transports the tools and the sample services can name (`OMNIBUS_TRANSPORT`). */
export const TRANSPORTS = ['memory', 'rabbitmq', 'kafka', 'aws', 'pubsub', 'nats', 'amqp10'] as const;
export type TransportName = (typeof TRANSPORTS)[number];
