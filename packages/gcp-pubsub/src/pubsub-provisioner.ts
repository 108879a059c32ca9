import type { PubSub } from '@google-cloud/pubsub';
import { GrpcStatus, grpcCode, toTransportError } from './pubsub-errors.js';

export interface SubscriptionSpec {
  readonly name: string;
  readonly topic: string;
  readonly ordered: boolean;
  /** Server-side dead-lettering to this topic after this many deliveries; none when undefined. */
  readonly deadLetter?: { readonly topic: string; readonly maxDeliveryAttempts: number };
}

/** Pub/Sub accepts 5 to 100 for `maxDeliveryAttempts`. */
export const MIN_DELIVERY_ATTEMPTS = 5;
export const MAX_DELIVERY_ATTEMPTS = 100;

/**
 * Creates topics and subscriptions, idempotently: one that exists already (`ALREADY_EXISTS`, created by
 * another instance or an earlier run) counts as created and is left as it is. What this instance has
 * created or found is remembered, so provisioning the same thing again costs no request.
 */
export class PubSubProvisioner {
  readonly #known = new Map<string, Promise<void>>();

  constructor(
    private readonly pubsub: PubSub,
    private readonly projectId: string,
  ) {}

  topic(name: string): Promise<void> {
    return this.#once(`topic:${name}`, async () => {
      await this.pubsub.createTopic(name);
    });
  }

  subscription(spec: SubscriptionSpec): Promise<void> {
    return this.#once(`subscription:${spec.name}`, async () => {
      await this.pubsub.createSubscription(spec.topic, spec.name, {
        enableMessageOrdering: spec.ordered,
        ...(spec.deadLetter === undefined
          ? {}
          : {
              deadLetterPolicy: {
                deadLetterTopic: `projects/${this.projectId}/topics/${spec.deadLetter.topic}`,
                maxDeliveryAttempts: spec.deadLetter.maxDeliveryAttempts,
              },
            }),
      });
    });
  }

  #once(key: string, create: () => Promise<void>): Promise<void> {
    let known = this.#known.get(key);
    if (known === undefined) {
      known = create().catch((error: unknown) => {
        if (grpcCode(error) === GrpcStatus.ALREADY_EXISTS) return;
        this.#known.delete(key);
        throw toTransportError(error, `provision ${key}`);
      });
      this.#known.set(key, known);
    }
    return known;
  }
}
