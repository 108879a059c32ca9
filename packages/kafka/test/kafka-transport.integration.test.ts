import { describeIntegration, runTransportConformance } from '@omnibus/core/testing';
import { deleteTestTopics, probeKafka, restartKafka, testTransport } from './kafka-test-support.js';

describeIntegration('kafka', probeKafka, () => {
  after(deleteTestTopics);

  runTransportConformance('kafka', {
    createTransport: () => testTransport(),
    createUnconnectedTransport: () => testTransport({}, { connect: false }),
    restartBroker: restartKafka,
    reconnectMessages: 10_000,
  });
});
