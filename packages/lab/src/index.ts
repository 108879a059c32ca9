export { brokerEnv, defaultBrokerEnv, readBrokerEnv, type BrokerEnv } from './broker-env.js';
