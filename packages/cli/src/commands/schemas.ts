import { resolve } from 'node:path';
import type { ParsedSchema, SubjectNameStrategy } from '@omnibus/avro';
import {
  RecordNameStrategy,
  RegistryError,
  RegistryErrorCode,
  SchemaRegistryClient,
  TopicNameStrategy,
  TopicRecordNameStrategy,
  listSchemaFiles,
  parseSchema,
  readSchemaFile,
} from '@omnibus/avro';
import type { Contract } from '@omnibus/core';
import { basicAuthHelp, basicAuthOptions, readBasicAuth } from '../basic-auth-option.js';
import type { Command, CommandGroup, CommandIo, OptionValues } from '../command.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../command.js';

const STRATEGIES: Record<string, SubjectNameStrategy> = {
  topic: TopicNameStrategy,
  record: RecordNameStrategy,
  'topic-record': TopicRecordNameStrategy,
};

const options = {
  dir: { type: 'string', default: 'schemas' },
  registry: { type: 'string' },
  strategy: { type: 'string', default: 'topic-record' },
  ...basicAuthOptions,
} as const;

const optionHelp = [
  '--dir <path>              the schemas directory (default schemas)',
  '--registry <url>          the schema registry (default $OMNIBUS_SCHEMA_REGISTRY_URL)',
  '--strategy <topic|record|topic-record>  subject naming, as the serializer is configured (default',
  "                          topic-record, the serializer's: <dir>-<record name>; the topic of a file",
  '                          is its first directory, e.g. orders/OrderPlaced.avsc travels on orders)',
  ...basicAuthHelp('OMNIBUS_SCHEMA_REGISTRY_BASIC_AUTH'),
];

/** What was found about one schema file. */
interface Finding {
  readonly file: string;
  readonly subject?: string;
  readonly schema?: ParsedSchema;
  readonly ok: boolean;
  /** One line: what holds. */
  readonly summary: string;
  /** Reasons, one per line, when not ok. */
  readonly reasons: readonly string[];
  /** Whether registering it would add a version. */
  readonly needsRegistration: boolean;
}

interface Settings {
  readonly dir: string;
  readonly strategyName: string;
  readonly strategy: SubjectNameStrategy;
  readonly client: SchemaRegistryClient | undefined;
}

function settings(values: OptionValues, io: CommandIo, requireRegistry: boolean): Settings {
  const strategyName = String(values.strategy);
  const strategy = STRATEGIES[strategyName];
  if (strategy === undefined) {
    throw new UsageError(
      `--strategy must be topic, record or topic-record, got ${JSON.stringify(strategyName)}`,
    );
  }
  const url = (values.registry as string | undefined) ?? io.env.OMNIBUS_SCHEMA_REGISTRY_URL;
  if (url === undefined && requireRegistry) {
    throw new UsageError('a registry is needed: --registry <url> or OMNIBUS_SCHEMA_REGISTRY_URL');
  }
  const auth = readBasicAuth(values, io.env, 'OMNIBUS_SCHEMA_REGISTRY_BASIC_AUTH');
  const client =
    url === undefined
      ? undefined
      : new SchemaRegistryClient({ url, ...(auth === undefined ? {} : { auth }) });
  return { dir: resolve(String(values.dir)), strategyName, strategy, client };
}

/** A contract as the serializer would see it: the file's first directory is its channel. */
function contractFor(file: string, schema: ParsedSchema): Contract | undefined {
  const slash = file.indexOf('/');
  const channel = slash < 0 ? undefined : file.slice(0, slash);
  if (channel === undefined) return undefined;
  return { kind: 'event', type: schema.name ?? file, channel, ordered: false, schema: file };
}

async function inspect(settings: Settings): Promise<Finding[]> {
  const files = await listSchemaFiles(settings.dir);
  if (files.length === 0) throw new Error(`no .avsc files under ${settings.dir}`);
  const findings: Finding[] = [];
  for (const file of files) {
    let schema: ParsedSchema;
    try {
      schema = parseSchema(await readSchemaFile(settings.dir, file), { strictLogicalTypes: true });
    } catch (error) {
      findings.push({
        file,
        ok: false,
        summary: 'invalid schema',
        reasons: [(error as Error).message],
        needsRegistration: false,
      });
      continue;
    }
    const contract = contractFor(file, schema);
    let subject: string;
    try {
      if (contract === undefined && settings.strategy !== RecordNameStrategy) {
        throw new Error(
          'is not in a directory, so it has no topic: put it under a directory named after its channel or queue, or use --strategy record',
        );
      }
      subject = settings.strategy(
        contract ?? { kind: 'event', type: file, channel: '-', ordered: false },
        schema.name,
      );
    } catch (error) {
      findings.push({
        file,
        schema,
        ok: false,
        summary: 'no subject',
        reasons: [(error as Error).message],
        needsRegistration: false,
      });
      continue;
    }
    findings.push({
      file,
      subject,
      schema,
      ok: true,
      summary: 'valid',
      reasons: [],
      needsRegistration: false,
    });
  }
  // Two files on one subject would be versions of each other: with TopicNameStrategy, two record types
  // on one channel; they cannot both be registered.
  const bySubject = new Map<string, Finding[]>();
  for (const finding of findings) {
    if (finding.subject !== undefined)
      bySubject.set(finding.subject, [...(bySubject.get(finding.subject) ?? []), finding]);
  }
  for (const [subject, sharing] of bySubject) {
    if (sharing.length < 2) continue;
    for (const finding of sharing) {
      const others = sharing.filter((f) => f !== finding).map((f) => f.file);
      findings[findings.indexOf(finding)] = {
        ...finding,
        ok: false,
        summary: 'subject shared',
        reasons: [
          `${subject} is also the subject of ${others.join(', ')}: one subject holds versions of one record type`,
        ],
      };
    }
  }
  if (settings.client === undefined) return findings;
  const client = settings.client;
  return Promise.all(
    findings.map((finding) => (finding.ok ? againstRegistry(client, finding) : Promise.resolve(finding))),
  );
}

async function againstRegistry(client: SchemaRegistryClient, finding: Finding): Promise<Finding> {
  const subject = finding.subject!;
  const schema = finding.schema!;
  try {
    const found = await client.lookup(subject, schema.canonical);
    return { ...finding, summary: `registered: version ${found.version}, id ${found.id}` };
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    if (error.errorCode === RegistryErrorCode.subjectNotFound) {
      return { ...finding, summary: 'new subject', needsRegistration: true };
    }
    if (error.errorCode !== RegistryErrorCode.schemaNotFound) throw error;
  }
  const [check, level] = await Promise.all([
    client.testCompatibility(subject, schema.canonical),
    client.getCompatibility(subject),
  ]);
  if (check.compatible)
    return { ...finding, summary: `new version, compatible (${level})`, needsRegistration: true };
  return {
    ...finding,
    ok: false,
    summary: `incompatible (${level})`,
    reasons: check.messages.length > 0 ? check.messages : ['the registry gave no reason'],
  };
}

function report(findings: readonly Finding[], strategyName: string, io: CommandIo): number {
  for (const finding of findings) {
    const line = `${finding.ok ? '✓' : '✗'} ${finding.file}${finding.subject === undefined ? '' : ` → ${finding.subject}`}: ${finding.summary}`;
    (finding.ok ? io.stdout : io.stderr)(line);
    for (const reason of finding.reasons) io.stderr(`    ${reason}`);
  }
  const failed = findings.filter((f) => !f.ok).length;
  const line = `${findings.length} schemas: ${findings.length - failed} ok, ${failed} failed`;
  (failed === 0 ? io.stdout : io.stderr)(line);
  if (strategyName === 'topic' && findings.some((f) => f.summary === 'subject shared')) {
    io.stderr(
      'hint: --strategy topic (TopicNameStrategy) gives a channel one subject, so one record type; channels carrying several types need --strategy topic-record, and the serializer TopicRecordNameStrategy',
    );
  }
  return failed;
}

const check: Command = {
  name: 'check',
  summary: 'check every .avsc under the schemas directory, and against a registry when given one',
  options,
  optionHelp,
  async run(values: OptionValues, io: CommandIo): Promise<number> {
    const current = settings(values, io, false);
    const failed = report(await inspect(current), current.strategyName, io);
    if (current.client === undefined) {
      io.stdout('no registry given: compatibility with registered versions was not checked');
    }
    return failed === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};

const register: Command = {
  name: 'register',
  summary: 'register every .avsc under the schemas directory, or none if any fails the check',
  options,
  optionHelp,
  async run(values: OptionValues, io: CommandIo): Promise<number> {
    const current = settings(values, io, true);
    const findings = await inspect(current);
    if (findings.some((f) => !f.ok)) {
      report(findings, current.strategyName, io);
      io.stderr('nothing registered');
      return EXIT_FAILURE;
    }
    let failed = 0;
    for (const finding of findings) {
      if (!finding.needsRegistration) {
        io.stdout(`✓ ${finding.file} → ${finding.subject}: ${finding.summary}`);
        continue;
      }
      try {
        const id = await current.client!.register(finding.subject!, finding.schema!.canonical);
        const { version } = await current.client!.lookup(finding.subject!, finding.schema!.canonical);
        io.stdout(`✓ ${finding.file} → ${finding.subject}: registered version ${version}, id ${id}`);
      } catch (error) {
        failed++;
        io.stderr(`✗ ${finding.file} → ${finding.subject}: ${(error as Error).message}`);
      }
    }
    return failed === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};

export const schemasCommands: CommandGroup = {
  name: 'schemas',
  summary: 'Avro schemas and the registry',
  commands: [check, register],
};
