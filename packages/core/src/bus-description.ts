import type { Route } from './handler-registry.js';
import type { Topology } from './transport.js';
import { describeSource } from './transport.js';

/** One handler as the bus runs it. */
export interface HandlerDescription {
  /** `Class.method`. */
  readonly handler: string;
  readonly messageType: string;
  readonly contract: 'event' | 'command' | 'query';
  /** The subscriber group (a command queue's handler class's group: the inbox key). */
  readonly group: string;
  /** Where it consumes from, e.g. `subscription orders/billing` (channel/group) or `queue payments`. */
  readonly source: string;
  /** Deliveries handled at once by its consumer. */
  readonly concurrency: number;
  /** The layers around the method, outermost first. */
  readonly middleware: readonly string[];
  readonly retry: { readonly attempts: number; readonly immediate: number; readonly backoff: string };
  /** Undefined when the handler has no timeout. */
  readonly timeoutMs: number | undefined;
}

/** What a bus is made of: every handler and the topology it provisions at `start`. */
export interface BusDescription {
  readonly service: string;
  /** The transport's class name. */
  readonly transport: string;
  /** The persistence's class name; undefined without one. */
  readonly persistence: string | undefined;
  readonly handlers: readonly HandlerDescription[];
  readonly topology: Topology;
}

export function describeRoutes(
  routes: readonly Route[],
  timeoutMs: number | undefined,
): HandlerDescription[] {
  const handlers: HandlerDescription[] = [];
  for (const route of routes) {
    for (const handler of route.handlers.values()) {
      const timeout = handler.options.timeoutMs ?? timeoutMs;
      handlers.push({
        handler: `${handler.handlerClass.name}.${String(handler.method)}`,
        messageType: handler.contract.type,
        contract: handler.contract.kind,
        group: route.group,
        source:
          route.source.kind === 'queue'
            ? `queue ${route.source.queue}`
            : `subscription ${describeSource(route.source)}`,
        concurrency: route.concurrency,
        middleware: handler.middleware,
        retry: {
          attempts: handler.policy.attempts,
          immediate: handler.policy.immediate,
          backoff: handler.policy.backoff.name || 'custom',
        },
        timeoutMs: timeout,
      });
    }
  }
  return handlers;
}

/** `bus.describe()` as readable text: one block per handler, then the topology. */
export function formatBusDescription(description: BusDescription): string {
  const lines = [
    `${description.service} on ${description.transport}` +
      (description.persistence === undefined
        ? ', no persistence'
        : `, persistence ${description.persistence}`),
    '',
    `Handlers (${description.handlers.length}):`,
  ];
  for (const h of description.handlers) {
    lines.push(
      `  ${h.messageType} (${h.contract}) → ${h.handler}`,
      `    group ${h.group}, from ${h.source}, concurrency ${h.concurrency}`,
      `    middleware: ${h.middleware.join(' → ')} → handler`,
      `    retry: ${h.retry.attempts} attempts, ${h.retry.immediate} immediate, backoff ${h.retry.backoff}`,
      `    timeout: ${h.timeoutMs === undefined ? 'none' : `${h.timeoutMs} ms`}`,
    );
  }
  const { channels = [], queues = [], subscriptions = [] } = description.topology;
  lines.push('', 'Topology provisioned at start:');
  for (const channel of channels)
    lines.push(`  channel ${channel.name}${channel.ordered ? ' (ordered)' : ''}`);
  for (const queue of queues) {
    lines.push(
      `  queue ${queue.name}${queue.ordered ? ' (ordered)' : ''}, max deliveries ${queue.maxDeliveries ?? '-'}`,
    );
  }
  for (const s of subscriptions) {
    lines.push(
      `  subscription ${s.channel}/${s.group}: ${(s.types ?? []).join(', ')}, max deliveries ${s.maxDeliveries ?? '-'}`,
    );
  }
  return lines.join('\n');
}
