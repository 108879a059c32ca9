import type { AttributeValue } from './aws-codec.js';

/** What an SNS notification carried: the published message and its attributes. */
export interface SnsNotification {
  readonly message: string;
  readonly attributes: Record<string, AttributeValue>;
}

interface NotificationJson {
  Type?: unknown;
  Message?: unknown;
  TopicArn?: unknown;
  MessageAttributes?: unknown;
}

/**
 * The SNS JSON envelope (`{"Type":"Notification","Message":...,"MessageAttributes":...}`) that SNS
 * wraps each message in when a subscription does not use raw message delivery, unwrapped; undefined when
 * `body` is not one. Binary attributes arrive base64-encoded and are decoded back to bytes.
 */
export function unwrapSnsNotification(body: string): SnsNotification | undefined {
  if (!body.trimStart().startsWith('{')) return undefined;
  let parsed: NotificationJson;
  try {
    parsed = JSON.parse(body) as NotificationJson;
  } catch {
    return undefined;
  }
  if (
    parsed === null ||
    typeof parsed !== 'object' ||
    parsed.Type !== 'Notification' ||
    typeof parsed.Message !== 'string' ||
    typeof parsed.TopicArn !== 'string'
  ) {
    return undefined;
  }
  const attributes = Object.create(null) as Record<string, AttributeValue>;
  const given = parsed.MessageAttributes;
  if (given !== null && typeof given === 'object') {
    for (const [name, value] of Object.entries(given as Record<string, unknown>)) {
      if (value === null || typeof value !== 'object') continue;
      const { Type: type, Value: text } = value as { Type?: unknown; Value?: unknown };
      if (typeof type !== 'string' || typeof text !== 'string') continue;
      attributes[name] = type.startsWith('Binary')
        ? { DataType: type, BinaryValue: Buffer.from(text, 'base64') }
        : { DataType: type, StringValue: text };
    }
  }
  return { message: parsed.Message, attributes };
}
