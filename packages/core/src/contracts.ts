import { ConfigurationError } from './errors.js';
import type { StandardSchemaV1, StandardSchemaV1Props } from './standard-schema.js';

/**
 * A message contract is a value, not only a type: it exists at run time, so decorators and the bus read
 * it without `emitDecoratorMetadata`, and code built by tsc, esbuild, swc or tsx behaves the same.
 */
/** Method syntax makes the parameter bivariant, so `Contract<OrderPlaced>` is usable as a `Contract`. */
type KeyFunction<T> = { key(payload: T): string }['key'];

interface ContractBase<T> {
  /** Stable, globally unique message type name, e.g. `orders.OrderPlaced`; also the schema subject stem. */
  readonly type: string;
  /** Partition / ordering key: messages with the same key are handled in order. */
  readonly key?: KeyFunction<T>;
  /** Path of an Avro schema under `schemas/`; the payload is then written as Avro through the registry. */
  readonly schema?: string;
  /** Content type of the serializer that writes this message; defaults by `schema` (Avro) or JSON. */
  readonly contentType?: string;
  /** A runtime schema (zod, valibot, arktype, ...: any Standard Schema), checked at publish and at receipt. */
  readonly validate?: StandardSchemaV1<unknown, T>;
  /** Never set: carries the payload type for inference. */
  readonly __payload?: T;
}

export interface EventContract<T = unknown> extends ContractBase<T> {
  readonly kind: 'event';
  /** The channel (topic, exchange) this event travels on; several event types may share one. */
  readonly channel: string;
  /** Whether the channel keeps per-key order (FIFO topics, ordering keys). */
  readonly ordered: boolean;
}

export interface CommandContract<T = unknown> extends ContractBase<T> {
  readonly kind: 'command';
  /** The queue this command is sent to; its consumers compete. */
  readonly queue: string;
  readonly ordered: boolean;
}

/**
 * A question one service answers for others: the request goes to `queue` (its handlers compete, as for a
 * command), the handler returns the reply, and `bus.request` resolves with it (see docs/request-reply.md).
 */
export interface QueryContract<Req = unknown, Res = unknown> extends ContractBase<Req> {
  readonly kind: 'query';
  readonly queue: string;
  readonly ordered: boolean;
  /** How long `bus.request` waits for the reply unless told otherwise; default 30 s. */
  readonly timeoutMs?: number;
  /** Never set: carries the reply type for inference. */
  readonly __reply?: Res;
}

export type Contract<T = unknown> = EventContract<T> | CommandContract<T> | QueryContract<T>;
export type PayloadOf<C> = C extends Contract<infer T> ? T : never;
/** The reply type of a query contract. */
export type ReplyOf<C> = C extends QueryContract<unknown, infer R> ? R : never;

export interface EventDefinition<T> {
  readonly type: string;
  readonly channel: string;
  readonly key?: (payload: T) => string;
  readonly schema?: string;
  readonly contentType?: string;
  /**
   * A runtime schema through the Standard Schema interface (zod, valibot, arktype, ...). `publish`/`send`
   * check the payload and send what the schema returns, or throw a `ContractViolationError` and send
   * nothing; a received payload that fails it is dead-lettered at once with the issues as the reason.
   */
  readonly validate?: StandardSchemaV1<unknown, T>;
  readonly ordered?: boolean;
}

export interface CommandDefinition<T> {
  readonly type: string;
  readonly queue: string;
  readonly key?: (payload: T) => string;
  readonly schema?: string;
  readonly contentType?: string;
  /**
   * A runtime schema through the Standard Schema interface (zod, valibot, arktype, ...). `publish`/`send`
   * check the payload and send what the schema returns, or throw a `ContractViolationError` and send
   * nothing; a received payload that fails it is dead-lettered at once with the issues as the reason.
   */
  readonly validate?: StandardSchemaV1<unknown, T>;
  readonly ordered?: boolean;
}

export interface QueryDefinition<Req> {
  readonly type: string;
  readonly queue: string;
  readonly key?: (payload: Req) => string;
  readonly schema?: string;
  readonly contentType?: string;
  /** A runtime schema for the request, checked as for commands (see `CommandDefinition.validate`). */
  readonly validate?: StandardSchemaV1<unknown, Req>;
  /** How long `bus.request` waits for the reply unless its call says otherwise. Default 30 s. */
  readonly timeoutMs?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkName(field: string, value: string): void {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new ConfigurationError(
      field,
      `must be letters, digits, '.', '_' or '-', got ${JSON.stringify(value)}`,
    );
  }
}

/** Checked at run time too: plain JavaScript and casts reach here with anything. */
function checkValidate(validate: StandardSchemaV1 | undefined): void {
  if (validate === undefined) return;
  const props = (validate as { readonly '~standard'?: Partial<StandardSchemaV1Props> } | null)?.['~standard'];
  if (props?.version !== 1 || typeof props.validate !== 'function') {
    throw new ConfigurationError('validate', 'must be a Standard Schema v1 (zod, valibot, arktype, ...)');
  }
}

export function defineEvent<T>(definition: EventDefinition<T>): EventContract<T> {
  checkName('type', definition.type);
  checkValidate(definition.validate);
  checkName('channel', definition.channel);
  return Object.freeze({ ...definition, kind: 'event', ordered: definition.ordered ?? false });
}

export function defineCommand<T>(definition: CommandDefinition<T>): CommandContract<T> {
  checkName('type', definition.type);
  checkValidate(definition.validate);
  checkName('queue', definition.queue);
  return Object.freeze({ ...definition, kind: 'command', ordered: definition.ordered ?? false });
}

/**
 * A query: `defineQuery<GetStockV1, StockLevelV1>({ type: 'inventory.GetStock', queue: 'inventory.queries' })`.
 * Replies are JSON; the request is written like a command's payload (`schema`, `contentType`).
 */
export function defineQuery<Req, Res>(definition: QueryDefinition<Req>): QueryContract<Req, Res> {
  checkName('type', definition.type);
  checkValidate(definition.validate);
  checkName('queue', definition.queue);
  if (
    definition.timeoutMs !== undefined &&
    !(definition.timeoutMs > 0 && Number.isFinite(definition.timeoutMs))
  ) {
    throw new ConfigurationError(
      'timeoutMs',
      `must be a finite number > 0, got ${String(definition.timeoutMs)}`,
    );
  }
  return Object.freeze({ ...definition, kind: 'query', ordered: false });
}

export function isContract(value: unknown): value is Contract {
  return (
    typeof value === 'object' &&
    value !== null &&
    ['event', 'command', 'query'].includes((value as Contract).kind) &&
    typeof (value as Contract).type === 'string'
  );
}
