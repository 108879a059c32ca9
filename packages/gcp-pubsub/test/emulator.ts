import { randomBytes } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';

/** The emulator the integration tests run against: pstest from `scripts/brokers up pubsub`. */
export const emulatorHost = process.env.PUBSUB_EMULATOR_HOST ?? '127.0.0.1:8085';

/** A project of its own for one test run, so its topics never meet another run's; deleted afterwards. */
export function runProjectId(): string {
  return `omnibus-${randomBytes(5).toString('hex')}`;
}

/** A raw client of the emulator, for what a foreign publisher or an operator does. */
export function rawClient(projectId: string): PubSub {
  return new PubSub({
    projectId,
    apiEndpoint: emulatorHost,
    emulatorMode: true,
    universeDomain: 'googleapis.com',
  });
}

/** Rejects when the emulator does not answer within 3 s. */
export async function probeEmulator(): Promise<void> {
  const client = rawClient('omnibus-probe');
  try {
    await client.getTopics({ pageSize: 1, autoPaginate: false, gaxOpts: { timeout: 3_000, retry: null } });
  } finally {
    await client.close();
  }
}

/**
 * Deletes every subscription and topic of a test project. pstest keeps all of them (and the broker lab
 * saves them across restarts), each with a delivery loop of its own, so a run leaves nothing behind.
 */
export async function deleteProject(projectId: string): Promise<void> {
  const client = rawClient(projectId);
  try {
    const [subscriptions] = await client.getSubscriptions();
    await Promise.all(subscriptions.map((subscription) => subscription.delete()));
    const [topics] = await client.getTopics();
    await Promise.all(topics.map((topic) => topic.delete()));
  } finally {
    await client.close();
  }
}
