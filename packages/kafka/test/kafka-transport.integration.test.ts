import { describeIntegration, runTransportConformance } from '@omnibus/core/testing';
import { probeKafka, restartKafka, testTransport } from './kafka-test-support.js';

describeIntegration('kafka', probeKafka, () => {
  runTransportConformance('kafka', {
    createTransport: () => testTransport(),
    restartBroker: restartKafka,
    reconnectMessages: 10_000,
  });
});
