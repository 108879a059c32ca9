import { describeIntegration, runTransportConformance } from '@omnibus/core/testing';
import { connectedTransport, probe } from './aws-fixtures.js';

describeIntegration('aws', probe, () => {
  // moto keeps everything in memory, and `scripts/brokers restart aws` brings back queues and visible
  // messages but not messages in flight: there is no restart that keeps all data, so the transport says
  // restartable: false (an AWS region has no broker process to restart either) and the reconnect test
  // is skipped with that reason.
  runTransportConformance('aws standard', { createTransport: () => connectedTransport() });
  runTransportConformance('aws fifo', { createTransport: () => connectedTransport({ fifo: true }) });
});
