import { expect } from 'chai';
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { Bus, Handle, NonRetriableError, Subscriber, defineCommand, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import type { SqsSnsTransport } from '../src/index.js';
import { PACKED_ATTRIBUTE } from '../src/aws-codec.js';
import { connectedTransport, deleteTestResources, probe, rawSqs } from './aws-fixtures.js';

/**
 * #15.1 on the wire: a dead-letter copy, read from the dead-letter queue with the AWS SDK, carries exactly
 * the original's message attributes plus the `omnibus-error-*` ones, and no empty CloudEvents id or type.
 */
describeIntegration('aws dead letters on the wire', probe, () => {
  let transport: SqsSnsTransport;
  let bus: Bus | undefined;
  const sqs = rawSqs();

  before(async function () {
    transport = await connectedTransport();
  });
  after(async function () {
    this.timeout(120_000);
    await bus?.stop();
    await transport.close();
    await deleteTestResources();
  });

  async function receiveAll(queueUrl: string, count: number): Promise<Message[]> {
    const got = new Map<string, Message>();
    await waitFor(
      async () => {
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageAttributeNames: ['All'],
          }),
        );
        for (const message of result.Messages ?? []) got.set(message.MessageId!, message);
        return got.size >= count;
      },
      { timeoutMs: 30_000, message: `${count} dead letters` },
    );
    return [...got.values()];
  }

  const text = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });

  it('copies exactly the original attributes plus omnibus-error-*', async function () {
    this.timeout(90_000);
    const queue = uniqueName('dlwire');
    const Thing = defineCommand<{ n: number }>({ type: 'aws.WireThing', queue });
    @Subscriber({ group: uniqueName('g') })
    class Refusing {
      @Handle(Thing)
      thing() {
        throw new NonRetriableError('refused');
      }
    }
    bus = new Bus({
      transport,
      serviceName: 'aws-wire',
      handlers: [Refusing],
      closeTransport: false,
      logger: silentLogger,
    });
    await bus.start();
    const { url } = await transport.queueOf({ kind: 'queue', queue });
    const dlq = await transport.queueOf({ kind: 'deadLetters', of: { kind: 'queue', queue } });
    const ours = {
      'ce-id': text('wire-1'),
      'ce-type': text('aws.WireThing'),
      'ce-source': text('a-foreign-client'),
      'ce-specversion': text('1.0'),
      'content-type': text('application/json'),
      'x-tenant': text('t1'),
    };
    await sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: '{"n":1}', MessageAttributes: ours }),
    );
    // A foreign message with no id and no type, one custom attribute.
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: '{"n":2}',
        MessageAttributes: { 'x-foreign': text('v') },
      }),
    );
    const dead = await receiveAll(dlq.url, 2);
    const byBody = new Map(dead.map((message) => [message.Body, message]));
    // SQS allows 10 attributes: the rest travel packed in `omnibus-headers` (JSON), as aws.md documents.
    const attributes = (message: Message): Record<string, string> => {
      const all: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
        if (name === PACKED_ATTRIBUTE) Object.assign(all, JSON.parse(value.StringValue!) as object);
        else all[name] = value.StringValue!;
      }
      return all;
    };
    const original = (message: Message) =>
      Object.keys(attributes(message))
        .filter((name) => !name.startsWith('omnibus-error-'))
        .sort();
    const failure = (message: Message) =>
      Object.keys(attributes(message)).filter((name) => name.startsWith('omnibus-error-'));

    const typed = byBody.get('{"n":1}')!;
    expect(original(typed)).to.deep.equal(Object.keys(ours).sort());
    for (const [name, value] of Object.entries(ours)) {
      expect(attributes(typed)[name], name).to.equal(value.StringValue);
    }
    expect(attributes(typed)['omnibus-error-code']).to.equal('NON_RETRIABLE');

    const bare = byBody.get('{"n":2}')!;
    expect(original(bare)).to.deep.equal(['x-foreign']);
    expect(attributes(bare)['omnibus-error-code']).to.equal('MISSING_HEADER');
    for (const message of [typed, bare]) {
      expect(failure(message)).to.include.members(['omnibus-error-code', 'omnibus-error-message']);
    }
  });
});
