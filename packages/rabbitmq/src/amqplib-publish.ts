import type { ConfirmChannel } from 'amqplib';

/**
 * What the driver sets on a publish: exactly the `Options.Publish` fields {@link publishOn} translates, so
 * that a field added here without a translation is a type error, not a field silently left off the wire.
 */
export interface PublishOptions {
  /** `delivery-mode` 2 when true, 1 when false, absent when undefined (as amqplib's `persistent`). */
  readonly persistent?: boolean;
  /** Return the message (`basic.return`) when no queue takes it. */
  readonly mandatory?: boolean;
  readonly messageId?: string | undefined;
  readonly contentType?: string | undefined;
  /** Per-message TTL in milliseconds, as the decimal string AMQP carries. */
  readonly expiration?: string | undefined;
  readonly headers: Record<string, unknown>;
}

/** Writes one publish; `true` while the socket buffer has room (as `channel.publish` returns). */
export type PublishFn = (
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: PublishOptions,
  confirmed: (error: unknown) => void,
) => boolean;

/**
 * The two methods of amqplib's channel (2.3.x, `lib/channel.js`) that its own `ConfirmChannel#publish`
 * calls once it has turned the options into method fields and properties (`lib/api_args.js`).
 */
interface ChannelInternals {
  sendMessage(fields: object, properties: object, content: Buffer): boolean;
  pushConfirmCallback(callback: (error: unknown) => void): void;
}

/**
 * How this driver writes publishes on a confirm channel. amqplib's `publish` makes the headers the
 * prototype of a fresh object (`Object.create(options.headers)`), and its field-table encoder then walks
 * that prototype chain with `for…in`, which V8 cannot serve from its enumeration cache: about 3 µs per
 * message with the CloudEvents headers. Handing the method fields and the properties to the channel's
 * `sendMessage` and the confirm callback to `pushConfirmCallback`, as `publish` itself does, skips that and
 * writes the same frame (`amqplib-publish.test.ts` compares the bytes). Those two methods are amqplib's
 * internals, so the version is pinned; if they are missing this returns `undefined` and the caller falls
 * back to `publish`.
 */
export function directPublish(channel: ConfirmChannel): PublishFn | undefined {
  const internals = channel as unknown as Partial<ChannelInternals>;
  const { sendMessage, pushConfirmCallback } = internals;
  if (typeof sendMessage !== 'function' || typeof pushConfirmCallback !== 'function') return undefined;
  return (exchange, routingKey, content, options, confirmed) => {
    const more = sendMessage.call(
      channel,
      publishFields(exchange, routingKey, options),
      properties(options),
      content,
    );
    // After the write, as amqplib does: a throwing write (closed channel) leaves no confirm expected.
    pushConfirmCallback.call(channel, confirmed);
    return more;
  };
}

/** `channel.publish`, amqplib's public path, for when {@link directPublish} is unavailable. */
export function plainPublish(channel: ConfirmChannel): PublishFn {
  return (exchange, routingKey, content, options, confirmed) =>
    channel.publish(exchange, routingKey, content, options, confirmed);
}

/** The `basic.publish` method fields, as amqplib's `Args.publish` makes them. */
export function publishFields(exchange: string, routingKey: string, options: PublishOptions) {
  return { exchange, routingKey, mandatory: options.mandatory === true, immediate: false, ticket: undefined };
}

/** The content-header properties, as amqplib's `Args.publish` makes them, with the headers as they are. */
export function properties(options: PublishOptions) {
  const { persistent } = options;
  return {
    contentType: options.contentType,
    headers: options.headers,
    deliveryMode: persistent === undefined ? undefined : persistent ? 2 : 1,
    messageId: options.messageId,
    expiration: options.expiration,
  };
}
