import { ConfigurationError } from '@omnibus/core';

/** A lowercase SQL identifier we can quote safely; the schema name goes into table names and a channel. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,39}$/;

/** Names of the omnibus objects in one PostgreSQL schema. */
export class PostgresSchema {
  readonly outbox: string;
  readonly inbox: string;
  readonly schedules: string;
  readonly migrations: string;
  /** The LISTEN/NOTIFY channel of this schema's outbox. */
  readonly channel: string;
  /** The channel on which added schedules announce their earliest due time (ms since the epoch). */
  readonly scheduleChannel: string;
  readonly quoted: string;

  constructor(readonly name: string) {
    if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
      throw new ConfigurationError(
        'schema',
        `must be a lowercase identifier of at most 40 characters, got ${JSON.stringify(name)}`,
      );
    }
    this.quoted = `"${name}"`;
    this.outbox = `${this.quoted}.omnibus_outbox`;
    this.inbox = `${this.quoted}.omnibus_inbox`;
    this.schedules = `${this.quoted}.omnibus_schedules`;
    this.migrations = `${this.quoted}.omnibus_migrations`;
    this.channel = `omnibus_outbox:${name}`;
    this.scheduleChannel = `omnibus_schedules:${name}`;
  }
}
