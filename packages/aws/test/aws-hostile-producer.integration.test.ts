import 'reflect-metadata';
import { CreateTopicCommand, PublishCommand } from '@aws-sdk/client-sns';
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Destination, Envelope, Transport } from '@omnibus/core';
import { describeIntegration, runSecurityConformance } from '@omnibus/core/testing';
import type { SqsSnsTransport } from '../src/index.js';
import {
  connectedTransport,
  deleteTestResources,
  probe,
  rawSns,
  rawSqs,
  testPrefix,
} from './aws-fixtures.js';

/**
 * #16.6 with the AWS SDK: attributes named `omnibus-attempt`, `x-delivery-count` (SQS counts receives
 * itself, in `ApproximateReceiveCount`) and `omnibus-target-group` do not shorten the retry budget or
 * make a group drop the message. Commands are sent to the queue with SQS, events published to the
 * channel's topic with SNS.
 */
describeIntegration('aws hostile producers', probe, () => {
  const sqs = rawSqs();
  const sns = rawSns();
  after(async function () {
    this.timeout(120_000);
    await deleteTestResources();
  });

  async function publish(transport: Transport, destination: Destination, envelope: Envelope): Promise<void> {
    const aws = transport as SqsSnsTransport;
    const attributes: Record<string, MessageAttributeValue> = {
      'ce-id': { DataType: 'String', StringValue: envelope.id },
      'ce-type': { DataType: 'String', StringValue: envelope.type },
    };
    for (const [name, value] of Object.entries(envelope.headers)) {
      const attribute =
        name === 'datacontenttype' ? 'content-type' : name.includes('-') ? name : `ce-${name}`;
      attributes[attribute] = { DataType: 'String', StringValue: value };
    }
    const body = Buffer.from(envelope.body).toString();
    if (destination.kind === 'queue') {
      const { url } = await aws.queueOf({ kind: 'queue', queue: destination.queue });
      await sqs.send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageAttributes: attributes }),
      );
    } else {
      // CreateTopic of an existing topic returns its ARN.
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: testPrefix + destination.channel }));
      await sns.send(new PublishCommand({ TopicArn, Message: body, MessageAttributes: attributes }));
    }
  }

  runSecurityConformance('aws sdk', {
    createTransport: () => connectedTransport(),
    only: 'forged headers',
    publishForeign: publish,
  });
});
