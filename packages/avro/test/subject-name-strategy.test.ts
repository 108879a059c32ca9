import { expect } from 'chai';
import { defineCommand, defineEvent, SchemaError } from '@omnibus/core';
import { RecordNameStrategy, TopicNameStrategy, TopicRecordNameStrategy } from '../src/index.js';

const placed = defineEvent({
  type: 'orders.OrderPlaced',
  channel: 'orders',
  schema: 'orders/OrderPlaced.avsc',
});
const pay = defineCommand({
  type: 'payments.ProcessPayment',
  queue: 'payments',
  schema: 'payments/ProcessPayment.avsc',
});

describe('subject name strategies', () => {
  it('TopicNameStrategy: <channel or queue>-value', () => {
    expect(TopicNameStrategy(placed, 'orders.OrderPlaced')).to.equal('orders-value');
    expect(TopicNameStrategy(pay, 'payments.ProcessPayment')).to.equal('payments-value');
  });

  it('RecordNameStrategy: the record full name', () => {
    expect(RecordNameStrategy(placed, 'orders.OrderPlaced')).to.equal('orders.OrderPlaced');
  });

  it('TopicRecordNameStrategy: <topic>-<record full name>', () => {
    expect(TopicRecordNameStrategy(pay, 'payments.ProcessPayment')).to.equal(
      'payments-payments.ProcessPayment',
    );
  });

  it('record strategies need a named schema', () => {
    expect(() => RecordNameStrategy(placed, undefined))
      .to.throw(SchemaError)
      .with.property('code', 'UNNAMED_SCHEMA');
    expect(() => TopicRecordNameStrategy(placed, undefined)).to.throw(SchemaError);
  });
});
