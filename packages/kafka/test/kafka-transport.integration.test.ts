import {
  describeIntegration,
  runRequestReplyConformance,
  runTransportConformance,
} from '@omnibus/core/testing';
import {
  KAFKA_CLIENTS,
  deleteTestTopics,
  probeKafka,
  restartKafka,
  testTransport,
} from './kafka-test-support.js';

describeIntegration('kafka', probeKafka, () => {
  after(deleteTestTopics);

  for (const client of KAFKA_CLIENTS) {
    describe(`on ${client}`, function () {
      runTransportConformance(`kafka (${client})`, {
        createTransport: () => testTransport({ client }),
        createUnconnectedTransport: () => testTransport({ client }, { connect: false }),
        restartBroker: restartKafka,
        reconnectMessages: 10_000,
      });
      runRequestReplyConformance(`kafka (${client})`, {
        createTransport: () => testTransport({ client }),
        // A request's topic is checked before the first publish to it: NOT_PROVISIONED.
        failsFastWithoutResponder: true,
      });
    });
  }
});
