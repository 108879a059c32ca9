import type { RegistryService, SchemaRequest, VersionRef } from './registry-service.js';
import { Refusal } from './registry-http-error.js';

interface Request {
  readonly params: string[];
  readonly query: URLSearchParams;
  readonly body: unknown;
}

type Handler = (service: RegistryService, request: Request) => Promise<unknown>;

/** A path of literal segments and `*` (one path parameter), with a handler per method. */
interface Route {
  readonly path: readonly string[];
  readonly methods: Readonly<Partial<Record<string, Handler>>>;
}

const flag = (query: URLSearchParams, name: string): boolean => query.get(name) === 'true';
const schemaRequest = (body: unknown): SchemaRequest => body ?? {};
const field = (body: unknown, name: string): unknown =>
  typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;

/** Confluent's version ids: `latest` (or -1) or 1..2^31-1. */
function versionRef(text: string): VersionRef {
  if (text === 'latest' || text === '-1') return 'latest';
  const version = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(version >= 1 && version <= 2 ** 31 - 1)) throw Refusal.invalidVersion(text);
  return version;
}

/** The REST API: Confluent's paths, parameters and response bodies. */
const ROUTES: readonly Route[] = [
  { path: [], methods: { GET: async () => ({}) } },
  { path: ['schemas', 'types'], methods: { GET: async () => ['AVRO'] } },
  {
    path: ['schemas', 'ids', '*'],
    methods: {
      GET: async (s, r) => {
        const id = /^\d{1,10}$/.test(r.params[0]!) ? Number(r.params[0]) : Number.NaN;
        return { schema: await s.schemaById(id) };
      },
    },
  },
  { path: ['subjects'], methods: { GET: (s, r) => s.subjects(flag(r.query, 'deleted')) } },
  {
    path: ['subjects', '*'],
    methods: {
      POST: (s, r) => s.lookup(r.params[0]!, schemaRequest(r.body), flag(r.query, 'deleted')),
      DELETE: (s, r) => s.deleteSubject(r.params[0]!, flag(r.query, 'permanent')),
    },
  },
  {
    path: ['subjects', '*', 'versions'],
    methods: {
      GET: (s, r) => s.versionNumbers(r.params[0]!, flag(r.query, 'deleted')),
      POST: (s, r) => s.register(r.params[0]!, schemaRequest(r.body)),
    },
  },
  {
    path: ['subjects', '*', 'versions', '*'],
    methods: {
      GET: (s, r) => s.version(r.params[0]!, versionRef(r.params[1]!), flag(r.query, 'deleted')),
      DELETE: (s, r) => s.deleteVersion(r.params[0]!, versionRef(r.params[1]!), flag(r.query, 'permanent')),
    },
  },
  {
    path: ['compatibility', 'subjects', '*', 'versions'],
    methods: { POST: (s, r) => compatibility(s, r, 'latest') },
  },
  {
    path: ['compatibility', 'subjects', '*', 'versions', '*'],
    methods: { POST: (s, r) => compatibility(s, r, versionRef(r.params[1]!)) },
  },
  {
    path: ['config'],
    methods: {
      GET: async (s) => ({ compatibilityLevel: await s.compatibility() }),
      PUT: async (s, r) => ({
        compatibility: await s.setCompatibility(null, field(r.body, 'compatibility')),
      }),
      DELETE: async (s) => ({ compatibilityLevel: await s.deleteCompatibility(null) }),
    },
  },
  {
    path: ['config', '*'],
    methods: {
      GET: async (s, r) => ({
        compatibilityLevel: flag(r.query, 'defaultToGlobal')
          ? await s.compatibility(r.params[0])
          : await s.subjectCompatibility(r.params[0]!),
      }),
      PUT: async (s, r) => ({
        compatibility: await s.setCompatibility(r.params[0]!, field(r.body, 'compatibility')),
      }),
      DELETE: async (s, r) => ({ compatibilityLevel: await s.deleteCompatibility(r.params[0]!) }),
    },
  },
  {
    path: ['mode'],
    methods: {
      GET: async (s) => ({ mode: await s.mode() }),
      PUT: async (s, r) => ({ mode: await s.setMode(null, field(r.body, 'mode')) }),
    },
  },
  {
    path: ['mode', '*'],
    methods: {
      GET: async (s, r) => ({
        mode: flag(r.query, 'defaultToGlobal')
          ? await s.mode(r.params[0])
          : await s.subjectMode(r.params[0]!),
      }),
      PUT: async (s, r) => ({ mode: await s.setMode(r.params[0]!, field(r.body, 'mode')) }),
    },
  },
];

async function compatibility(service: RegistryService, request: Request, ref: VersionRef): Promise<unknown> {
  const result = await service.testCompatibility(request.params[0]!, ref, schemaRequest(request.body));
  return flag(request.query, 'verbose')
    ? { is_compatible: result.compatible, messages: result.messages }
    : { is_compatible: result.compatible };
}

/** Answers one request: the response body, or a `RegistryHttpError`. */
export async function routeRequest(
  service: RegistryService,
  method: string,
  url: string,
  body: unknown,
): Promise<unknown> {
  const parsed = new URL(url, 'http://registry');
  let segments: string[];
  try {
    // Split before decoding: a subject may contain an encoded '/'.
    segments = parsed.pathname
      .split('/')
      .filter((segment) => segment !== '')
      .map(decodeURIComponent);
  } catch {
    throw Refusal.notFound();
  }
  for (const route of ROUTES) {
    if (route.path.length !== segments.length) continue;
    const params: string[] = [];
    const matches = route.path.every((part, i) => {
      if (part === '*') {
        params.push(segments[i]!);
        return true;
      }
      return part === segments[i];
    });
    if (!matches) continue;
    const handler = route.methods[method];
    if (handler === undefined) throw Refusal.methodNotAllowed();
    return handler(service, { params, query: parsed.searchParams, body });
  }
  throw Refusal.notFound();
}
