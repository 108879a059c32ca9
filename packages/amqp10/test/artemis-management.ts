import type { Connection, EventContext, Receiver, Sender } from 'rhea';
import { rawConnection } from './broker.js';

/**
 * Artemis's own management, over AMQP 1.0 (requests to `activemq.management`, replies on a dynamic queue),
 * on a plain rhea connection: what the broker itself recorded, read without Omnibus code. Needs the
 * `manage` permission (the lab's `amq` role has it).
 */
export class ArtemisManagement {
  readonly #pending = new Map<
    string,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  #next = 0;

  private constructor(
    private readonly connection: Connection,
    private readonly sender: Sender,
    private readonly replyTo: string,
    receiver: Receiver,
  ) {
    receiver.on('message', (context: EventContext) => {
      const message = context.message!;
      const waiting = this.#pending.get(String(message.correlation_id));
      if (waiting === undefined) return;
      this.#pending.delete(String(message.correlation_id));
      const body = typeof message.body === 'string' ? message.body : String(message.body);
      const succeeded = (message.application_properties as Record<string, unknown> | undefined)?.[
        '_AMQ_OperationSucceeded'
      ];
      if (succeeded === true) waiting.resolve((JSON.parse(body) as unknown[])[0]);
      else waiting.reject(new Error(`Artemis management refused: ${body}`));
    });
  }

  static async open(): Promise<ArtemisManagement> {
    const connection = await rawConnection();
    // A dynamic source has no address until the broker names it (rhea's types want one).
    const receiver = connection.open_receiver({ source: { dynamic: true } as never });
    const replyTo = await new Promise<string>((resolve) =>
      receiver.once('receiver_open', () => resolve(receiver.source.address)),
    );
    const sender = connection.open_sender({ target: { address: 'activemq.management' } });
    await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
    return new ArtemisManagement(connection, sender, replyTo, receiver);
  }

  /** An attribute of a resource (`queue.<name>`, `address.<name>`, `broker`). */
  attribute(resource: string, name: string): Promise<unknown> {
    return this.#request({ _AMQ_ResourceName: resource, _AMQ_Attribute: name }, []);
  }

  /** An operation of a resource, with its parameters. */
  invoke(resource: string, operation: string, parameters: unknown[] = []): Promise<unknown> {
    return this.#request({ _AMQ_ResourceName: resource, _AMQ_OperationName: operation }, parameters);
  }

  /** The counters of one queue, as the broker keeps them. */
  async queue(name: string): Promise<QueueView> {
    const resource = `queue.${name}`;
    const [messageCount, messagesAdded, messagesAcknowledged, messagesKilled, scheduledCount] =
      await Promise.all(
        ['messageCount', 'messagesAdded', 'messagesAcknowledged', 'messagesKilled', 'scheduledCount'].map(
          (attribute) => this.attribute(resource, attribute),
        ),
      );
    return {
      messageCount: Number(messageCount),
      messagesAdded: Number(messagesAdded),
      messagesAcknowledged: Number(messagesAcknowledged),
      messagesKilled: Number(messagesKilled),
      scheduledCount: Number(scheduledCount),
    };
  }

  close(): void {
    this.connection.close();
  }

  #request(properties: Record<string, string>, parameters: unknown[]): Promise<unknown> {
    const id = `m-${++this.#next}`;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.sender.send({
        message_id: id,
        reply_to: this.replyTo,
        application_properties: properties,
        body: JSON.stringify(parameters),
      });
    });
  }
}

export interface QueueView {
  /** Messages in the queue now (scheduled ones included). */
  readonly messageCount: number;
  /** Messages ever routed to it. */
  readonly messagesAdded: number;
  /** Messages settled `accepted` (or otherwise consumed for good). */
  readonly messagesAcknowledged: number;
  /** Messages the broker moved to its dead-letter address (a `rejected`, or its own delivery limit). */
  readonly messagesKilled: number;
  /** Messages waiting for their delivery time. */
  readonly scheduledCount: number;
}
