import type { Contract } from '@omnibus/core';
import { SchemaError } from '@omnibus/core';

/**
 * Names the registry subject a contract's schema is registered under, from the contract and the full
 * name of its schema's record (undefined when the schema is not a named type). The three strategies of
 * Confluent's clients; the topic is the contract's channel (events) or queue (commands).
 */
export type SubjectNameStrategy = (contract: Contract, recordName: string | undefined) => string;

function topicOf(contract: Contract): string {
  return contract.kind === 'event' ? contract.channel : contract.queue;
}

function requireRecordName(contract: Contract, recordName: string | undefined): string {
  if (recordName === undefined) {
    throw new SchemaError(
      `${contract.type}: the subject strategy needs a named schema (record, enum, fixed)`,
      {
        code: 'UNNAMED_SCHEMA',
      },
    );
  }
  return recordName;
}

/**
 * `<topic>-value`: the default of Confluent's Java, .NET and Go clients. One subject per topic, so every
 * version of the topic's schema is checked against the others: fits a channel that carries one record
 * type. A channel carrying several types needs `TopicRecordNameStrategy`.
 */
export const TopicNameStrategy: SubjectNameStrategy = (contract) => `${topicOf(contract)}-value`;

/** `<record full name>`: one subject per record type, wherever it travels. */
export const RecordNameStrategy: SubjectNameStrategy = (contract, recordName) =>
  requireRecordName(contract, recordName);

/** `<topic>-<record full name>`: one subject per record type per topic; several types may share a topic. */
export const TopicRecordNameStrategy: SubjectNameStrategy = (contract, recordName) =>
  `${topicOf(contract)}-${requireRecordName(contract, recordName)}`;
