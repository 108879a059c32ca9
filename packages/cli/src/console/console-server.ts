import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  QueueSource,
  SagaStatus,
  SagaStore,
  ScheduleStore,
  SigningKeys,
  SubscriptionSource,
  Transport,
} from '@omnibus/core';
import {
  ConfigurationError,
  DeserializationError,
  describeDestination,
  describeSource,
  uuidv7,
} from '@omnibus/core';
import type { SagaInspection } from '@omnibus/saga';
import { inspectSaga } from '@omnibus/saga';
import type { DeadLetterView } from '../dead-letters/dead-letter-view.js';
import { viewOf } from '../dead-letters/dead-letter-view.js';
import { matches } from '../dead-letters/dead-letter-filter.js';
import { deadLetterSession } from '../dead-letters/dead-letter-session.js';
import { PayloadDecoder } from '../dead-letters/payload-decoder.js';
import { replayDeadLetter } from '../dead-letters/replay-dead-letter.js';
import type { Html } from './html.js';
import { html, page } from './html.js';

export interface ConsoleOptions {
  /** Default 127.0.0.1. Any other address needs `token`. */
  readonly host?: string;
  /** Default 8090; 0 picks a free port. */
  readonly port?: number;
  /** Required as a bearer token or as the basic-auth password (any user name), when set. */
  readonly token?: string;
  readonly transport?: Transport;
  /** The dead-letter queues the console shows (of these queues and subscriber groups). */
  readonly deadLetters: readonly (SubscriptionSource | QueueSource)[];
  readonly decoder: PayloadDecoder;
  /** The buses' signing keys: replays are sealed to their group and edited payloads signed again. */
  readonly signing?: SigningKeys;
  /** How long to wait for a dead-letter queue's first message (Kafka's groups take seconds to join). */
  readonly firstWaitMs: number;
  readonly schedules?: ScheduleStore;
  readonly sagas?: SagaStore;
  /** The sagas listed on the sagas page. */
  readonly sagaNames: readonly string[];
  /** Health URLs (`/readyz`) of the buses shown, by name. */
  readonly buses: Readonly<Record<string, string>>;
  /** One line per state change (and per refused request): who, what, on what. */
  readonly log: (line: string) => void;
}

export interface RunningConsole {
  readonly url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_BODY_BYTES = 1 << 20;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The web console: server-rendered pages over node:http, no client script. Every change of state is two
 * steps: a form posts to `/confirm`, which shows what will happen and a form carrying this server's CSRF
 * token; only that form's post to `/do` acts, and each action is logged.
 */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && options.token === undefined) {
    throw new ConfigurationError(
      'console.token',
      `binding ${host} (not 127.0.0.1) needs a token: set OMNIBUS_CONSOLE_TOKEN`,
    );
  }
  const csrf = randomBytes(24).toString('base64url');
  const scan = { limit: 500, firstWaitMs: options.firstWaitMs, idleMs: Math.min(options.firstWaitMs, 1_500) };

  const sourceNamed = (name: string | null): SubscriptionSource | QueueSource => {
    const found = options.deadLetters.find((source) => describeSource(source) === name);
    if (found === undefined)
      throw new HttpError(404, `no dead-letter queue ${name ?? ''} in the configuration`);
    return found;
  };
  const transport = (): Transport => {
    if (options.transport === undefined) throw new HttpError(404, 'no transport configured');
    return options.transport;
  };
  const schedules = (): ScheduleStore => {
    if (options.schedules === undefined)
      throw new HttpError(404, 'no database configured (database in omnibus.config.json)');
    return options.schedules;
  };
  const sagas = (): SagaStore => {
    if (options.sagas === undefined)
      throw new HttpError(404, 'no database configured (database in omnibus.config.json)');
    return options.sagas;
  };

  async function deadLetters(
    source: SubscriptionSource | QueueSource,
    id?: string,
  ): Promise<DeadLetterView[]> {
    const found: DeadLetterView[] = [];
    await deadLetterSession(transport(), source, scan, async (delivery) => {
      if (id !== undefined && delivery.envelope.id !== id) return 'kept';
      found.push(
        viewOf(
          delivery.envelope,
          id === undefined ? undefined : await options.decoder.decode(delivery.envelope),
        ),
      );
      return id === undefined ? 'kept' : 'stop';
    });
    return found;
  }

  function authorized(request: IncomingMessage): boolean {
    if (options.token === undefined) return true;
    const header = request.headers.authorization ?? '';
    let given = '';
    if (header.startsWith('Bearer ')) given = header.slice(7);
    if (header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      given = decoded.slice(decoded.indexOf(':') + 1);
    }
    const a = Buffer.from(given);
    const b = Buffer.from(options.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  const hidden = (fields: Record<string, string>): Html[] =>
    Object.entries(fields).map(
      ([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`,
    );

  /** A form that asks for confirmation of `action` before anything happens. */
  const ask = (action: string, label: string, fields: Record<string, string>, extra?: Html): Html =>
    html`<form class="inline" method="post" action="/confirm">
      ${hidden({ action, ...fields })}${extra ?? ''}<button type="submit">${label}</button>
    </form>`;

  const notice = (url: URL): Html => {
    const done = url.searchParams.get('done');
    const failed = url.searchParams.get('failed');
    return html`${done === null ? '' : html`<div class="notice" role="status">${done}</div>`}${failed === null ? '' : html`<div class="error" role="alert">${failed}</div>`}`;
  };

  async function overview(url: URL): Promise<string> {
    const rows = await Promise.all(
      options.deadLetters.map(async (source) => {
        const name = describeSource(source);
        let count: string;
        try {
          count = options.transport === undefined ? '-' : String((await deadLetters(source)).length);
        } catch (error) {
          count = `unreadable: ${(error as Error).message}`;
        }
        return html`<tr>
          <td><a href="/dlq?source=${encodeURIComponent(name)}">${name}</a></td>
          <td data-count="${name}">${count}</td>
        </tr>`;
      }),
    );
    return page(
      'Dead-letter queues',
      html`${notice(url)}
        <table>
          <tr>
            <th>Queue or subscriber group</th>
            <th>Dead letters</th>
          </tr>
          ${rows}
        </table>`,
    );
  }

  async function deadLetterList(url: URL): Promise<string> {
    const name = url.searchParams.get('source');
    const source = sourceNamed(name);
    const type = url.searchParams.get('type') ?? undefined;
    const code = url.searchParams.get('code') ?? undefined;
    const views = (await deadLetters(source)).filter(
      (view) =>
        (type === undefined || view.type === type) && (code === undefined || view.failure?.code === code),
    );
    const rows = views.map(
      (view) =>
        html`<tr>
          <td>
            <a href="/dlq/message?source=${encodeURIComponent(name!)}&amp;id=${encodeURIComponent(view.id)}"
              >${view.id}</a
            >
          </td>
          <td>${view.type}</td>
          <td>${view.failure?.code ?? ''}</td>
          <td class="reason">${view.failure?.message ?? ''}</td>
          <td>${view.failure?.failedAt ?? ''}</td>
        </tr>`,
    );
    return page(
      `Dead letters of ${name!}`,
      html`${notice(url)}
        <p>
          ${views.length} dead letters.
          ${views.length === 0 ? '' : ask('replay-all', 'Replay all…', { source: name! })}${views.length === 0 ? '' : ask('purge-all', 'Purge all…', { source: name! })}
        </p>
        <table>
          <tr>
            <th>Id</th>
            <th>Type</th>
            <th>Error code</th>
            <th>Reason</th>
            <th>Failed at</th>
          </tr>
          ${rows}
        </table>`,
    );
  }

  async function deadLetterPage(url: URL): Promise<string> {
    const name = url.searchParams.get('source');
    const source = sourceNamed(name);
    const id = url.searchParams.get('id') ?? '';
    const [view] = await deadLetters(source, id);
    if (view === undefined)
      throw new HttpError(404, `no dead letter ${id} in ${name!} (replayed or purged?)`);
    const payload = view.payload;
    let editable: string | undefined;
    try {
      editable =
        payload === undefined ? undefined : JSON.stringify(PayloadDecoder.editable(payload), null, 2);
    } catch {
      editable = undefined;
    }
    const headers = Object.entries(view.headers).map(
      ([key, value]) =>
        html`<tr>
          <th>${key}</th>
          <td>${value}</td>
        </tr>`,
    );
    const fields = { source: name!, id };
    return page(
      `Dead letter ${id}`,
      html`${notice(url)}
        <h2>Failure</h2>
        <table>
          <tr>
            <th>Type</th>
            <td>${view.type}</td>
          </tr>
          <tr>
            <th>Error code</th>
            <td id="error-code">${view.failure?.code ?? ''}</td>
          </tr>
          <tr>
            <th>Reason</th>
            <td id="reason">${view.failure?.message ?? ''}</td>
          </tr>
          <tr>
            <th>Attempts</th>
            <td>${view.failure?.attempts ?? ''}</td>
          </tr>
          <tr>
            <th>Failed at</th>
            <td>${view.failure?.failedAt ?? ''}</td>
          </tr>
          <tr>
            <th>Failed on</th>
            <td>${view.failure?.destination ?? ''} ${view.failure?.group ?? ''}</td>
          </tr>
        </table>
        <h2>Stack</h2>
        <pre id="stack">${view.failure?.stack ?? '(none recorded)'}</pre>
        <h2>Payload (${payload?.format ?? ''})</h2>
        <pre id="payload">${payload === undefined ? '' : JSON.stringify(payload, null, 2)}</pre>
        <p>${ask('replay', 'Replay…', fields)}${ask('purge', 'Purge…', fields)}</p>
        ${
          editable === undefined
            ? ''
            : html`<h2>Edit and replay</h2>
                ${ask('replay-edited', 'Replay edited…', fields, html`<textarea name="payload" aria-label="payload">${editable}</textarea><br />`)}`
        }
        <h2>Headers</h2>
        <table>
          ${headers}
        </table>`,
    );
  }

  async function schedulePage(url: URL): Promise<string> {
    const type = url.searchParams.get('type') || undefined;
    const found = await schedules().list({ limit: 200, ...(type === undefined ? {} : { type }) });
    const rows = found.map(
      (s) =>
        html`<tr data-schedule="${s.id}">
          <td>${s.id}</td>
          <td>${s.deliverAt.toISOString()}</td>
          <td>${s.envelope.type}</td>
          <td>${describeDestination(s.destination)}</td>
          <td>
            ${ask('cancel-schedule', 'Cancel…', { id: s.id })}${ask('reschedule', 'Reschedule…', { id: s.id }, html`<input name="at" aria-label="new time" value="${s.deliverAt.toISOString()}" />`)}
          </td>
        </tr>`,
    );
    return page(
      'Scheduled messages',
      html`${notice(url)}
        <p>${found.length} waiting, earliest due first.</p>
        <table>
          <tr>
            <th>Id</th>
            <th>Due</th>
            <th>Type</th>
            <th>To</th>
            <th></th>
          </tr>
          ${rows}
        </table>`,
    );
  }

  async function sagaListPage(url: URL): Promise<string> {
    const status = url.searchParams.get('status') as SagaStatus | null;
    if (status !== null && status !== 'running' && status !== 'completed')
      throw new HttpError(400, 'status must be running or completed');
    const sections = await Promise.all(
      options.sagaNames.map(async (saga) => {
        const records = await sagas().list(saga, { limit: 100, ...(status === null ? {} : { status }) });
        const rows = records.map(
          (r) =>
            html`<tr>
              <td>
                <a
                  href="/sagas/instance?saga=${encodeURIComponent(saga)}&amp;key=${encodeURIComponent(r.key)}"
                  >${r.key}</a
                >
              </td>
              <td>${r.status}</td>
              <td>${r.version}</td>
              <td>${r.updatedAt.toISOString()}</td>
            </tr>`,
        );
        return html`<h2>${saga}</h2>
          <table>
            <tr>
              <th>Key</th>
              <th>Status</th>
              <th>Version</th>
              <th>Updated</th>
            </tr>
            ${rows}
          </table>`;
      }),
    );
    return page(
      'Sagas',
      html`<p>
          Show: <a href="/sagas">all</a> · <a href="/sagas?status=running">running</a> ·
          <a href="/sagas?status=completed">completed</a>
        </p>
        ${sections}`,
    );
  }

  async function sagaPage(url: URL): Promise<string> {
    const saga = url.searchParams.get('saga') ?? '';
    const key = url.searchParams.get('key') ?? '';
    const record = await sagas().get(saga, key);
    if (record === undefined) throw new HttpError(404, `no instance ${key} of ${saga}`);
    let document: SagaInspection | undefined;
    try {
      document = inspectSaga(record);
    } catch (error) {
      if (!(error instanceof DeserializationError)) throw error;
      // not a saga document: shown as stored
    }
    const history = document?.history ?? [];
    return page(
      `${saga} ${key}`,
      html`<table>
          <tr>
            <th>Status</th>
            <td id="saga-status">${record.status}</td>
          </tr>
          <tr>
            <th>Version</th>
            <td>${record.version} (one save per handled step)</td>
          </tr>
          <tr>
            <th>Started</th>
            <td>${record.createdAt.toISOString()}</td>
          </tr>
          <tr>
            <th>Updated</th>
            <td>${record.updatedAt.toISOString()}</td>
          </tr>
          <tr>
            <th>Completed</th>
            <td>${record.completedAt?.toISOString() ?? ''}</td>
          </tr>
        </table>
        <h2>State</h2>
        <pre id="saga-state">
${document === undefined ? record.data : JSON.stringify(document.state, null, 2)}</pre>
        <h2>Pending timeouts</h2>
        <pre>${JSON.stringify(document?.timeouts ?? [], null, 2)}</pre>
        <h2>Recorded compensations</h2>
        <pre>${JSON.stringify(document?.compensations ?? [], null, 2)}</pre>
        <h2>History (last 50 steps)</h2>
        <table id="saga-history">
          <tr>
            <th>Version</th>
            <th>Time</th>
            <th>Did</th>
            <th>Message type</th>
            <th>Message id</th>
          </tr>
          ${history.map(
            (step) =>
              html`<tr>
                <td>${step.version}</td>
                <td>${step.at}</td>
                <td>
                  ${step.timeout === undefined ? step.action : `${step.action} (timeout ${step.timeout})`}
                </td>
                <td>${step.type}</td>
                <td>${step.messageId}</td>
              </tr>`,
          )}
        </table>`,
    );
  }

  async function healthOf(): Promise<{ name: string; url: string; status: string; detail: string }[]> {
    return Promise.all(
      Object.entries(options.buses).map(async ([name, url]) => {
        try {
          const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
          const detail = (await response.text()).slice(0, 500);
          return { name, url, status: response.ok ? 'up' : 'down', detail: `${response.status} ${detail}` };
        } catch (error) {
          return { name, url, status: 'down', detail: (error as Error).message };
        }
      }),
    );
  }

  async function healthPage(): Promise<string> {
    const rows = (await healthOf()).map(
      (bus) =>
        html`<tr>
          <td>${bus.name}</td>
          <td>${bus.url}</td>
          <td class="${bus.status}">${bus.status}</td>
          <td>${bus.detail}</td>
        </tr>`,
    );
    return page(
      'Bus health',
      html`<table>
        <tr>
          <th>Bus</th>
          <th>Ready URL</th>
          <th>Status</th>
          <th>Answer</th>
        </tr>
        ${rows}
      </table>`,
    );
  }

  /** What `/confirm` says an action will do. */
  function describeAction(form: URLSearchParams): string {
    const source = form.get('source') ?? '';
    switch (form.get('action')) {
      case 'replay':
        return `Send dead letter ${form.get('id')} back to where it failed (${source}), then remove it from the dead-letter queue.`;
      case 'replay-edited':
        return `Send dead letter ${form.get('id')} back to ${source} with the payload below (checked against its schema first), then remove it.`;
      case 'replay-all':
        return `Send every dead letter of ${source} back to where it failed.`;
      case 'purge':
        return `Delete dead letter ${form.get('id')} of ${source} for good.`;
      case 'purge-all':
        return `Delete every dead letter of ${source} for good.`;
      case 'cancel-schedule':
        return `Cancel scheduled message ${form.get('id')}: it will never be delivered.`;
      case 'reschedule':
        return `Move scheduled message ${form.get('id')} to ${form.get('at')}.`;
      default:
        throw new HttpError(400, `unknown action ${form.get('action') ?? ''}`);
    }
  }

  /** Carries out a confirmed action; resolves with the page to go back to and what happened. */
  async function act(form: URLSearchParams): Promise<{ back: string; done: string }> {
    const action = form.get('action')!;
    const id = form.get('id') ?? '';
    if (action === 'cancel-schedule') {
      const cancelled = await schedules().cancel(id);
      if (!cancelled) throw new HttpError(409, `${id} is not waiting: released already, or unknown`);
      return { back: '/schedules', done: `cancelled ${id}` };
    }
    if (action === 'reschedule') {
      const at = new Date(form.get('at') ?? '');
      if (!Number.isFinite(at.getTime())) throw new HttpError(400, 'the new time must be an ISO date-time');
      if (!(await schedules().reschedule(id, at))) throw new HttpError(409, `${id} is not waiting`);
      return { back: '/schedules', done: `rescheduled ${id} to ${at.toISOString()}` };
    }
    const name = form.get('source');
    const source = sourceNamed(name);
    const back = `/dlq?source=${encodeURIComponent(name!)}`;
    const all = action === 'replay-all' || action === 'purge-all';
    let body: Uint8Array | undefined;
    if (action === 'replay-edited') {
      const [view] = await deadLetters(source, id);
      if (view?.payload === undefined) throw new HttpError(404, `no dead letter ${id}`);
      let value: unknown;
      try {
        value = JSON.parse(form.get('payload') ?? '');
      } catch (error) {
        throw new HttpError(400, `the edited payload is not JSON: ${(error as Error).message}; nothing sent`);
      }
      body = await options.decoder.encode(view.payload, value, view.type);
    }
    const replayId = uuidv7();
    let count = 0;
    await deadLetterSession(transport(), source, scan, async (delivery) => {
      if (!all && !matches({ id }, delivery.envelope)) return 'kept';
      if (action.startsWith('purge')) await delivery.ack();
      else
        await replayDeadLetter(transport(), source, delivery, {
          replayId,
          ...(options.signing === undefined ? {} : { signing: options.signing }),
          ...(body === undefined ? {} : { body }),
        });
      count++;
      return all ? 'settled' : 'stop';
    });
    if (count === 0)
      throw new HttpError(404, `nothing to ${action.split('-')[0]!}: no such dead letter left`);
    const verb = action.startsWith('purge') ? 'purged' : 'replayed';
    return { back, done: `${verb} ${all ? `${count} dead letters` : id}` };
  }

  async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new HttpError(413, 'form too large');
      chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://console');
    const who = `${request.socket.remoteAddress ?? '?'}`;
    if (!authorized(request)) {
      options.log(
        JSON.stringify({
          at: new Date().toISOString(),
          refused: 'unauthorized',
          path: url.pathname,
          from: who,
        }),
      );
      response.writeHead(401, {
        'www-authenticate': 'Basic realm="omnibus console"',
        'content-type': 'text/plain',
      });
      response.end('token required');
      return;
    }
    const send = (body: string, status = 200): void => {
      response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(body);
    };
    try {
      if (request.method === 'GET') {
        if (url.pathname === '/') return send(await overview(url));
        if (url.pathname === '/dlq') return send(await deadLetterList(url));
        if (url.pathname === '/dlq/message') return send(await deadLetterPage(url));
        if (url.pathname === '/schedules') return send(await schedulePage(url));
        if (url.pathname === '/sagas') return send(await sagaListPage(url));
        if (url.pathname === '/sagas/instance') return send(await sagaPage(url));
        if (url.pathname === '/health') return send(await healthPage());
        if (url.pathname === '/health.json') {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify(await healthOf()));
          return;
        }
        throw new HttpError(404, `no page ${url.pathname}`);
      }
      if (request.method === 'POST' && url.pathname === '/confirm') {
        const form = await readForm(request);
        const what = describeAction(form);
        const fields = Object.fromEntries([...form.entries()].filter(([name]) => name !== 'csrf'));
        const payload = form.get('payload');
        return send(
          page(
            'Confirm',
            html`<p id="confirm-what">${what}</p>
              ${payload === null ? '' : html`<pre>${payload}</pre>`}
              <form method="post" action="/do">
                ${hidden({ ...fields, csrf })}<button type="submit">Confirm</button>
              </form>
              <p><a href="javascript:history.back()">Cancel</a></p>`,
          ),
        );
      }
      if (request.method === 'POST' && url.pathname === '/do') {
        const form = await readForm(request);
        const given = Buffer.from(form.get('csrf') ?? '');
        if (given.length !== csrf.length || !timingSafeEqual(given, Buffer.from(csrf))) {
          options.log(
            JSON.stringify({
              at: new Date().toISOString(),
              refused: 'no confirmation token',
              action: form.get('action'),
              from: who,
            }),
          );
          throw new HttpError(403, 'missing or stale confirmation token: confirm again');
        }
        describeAction(form); // refuses unknown actions before anything happens
        const entry = {
          at: new Date().toISOString(),
          action: form.get('action'),
          source: form.get('source') ?? undefined,
          id: form.get('id') ?? undefined,
          from: who,
        };
        try {
          const { back, done } = await act(form);
          options.log(JSON.stringify({ ...entry, outcome: done }));
          response.writeHead(303, {
            location: `${back}${back.includes('?') ? '&' : '?'}done=${encodeURIComponent(done)}`,
          });
          response.end();
        } catch (error) {
          options.log(JSON.stringify({ ...entry, failed: (error as Error).message }));
          throw error;
        }
        return;
      }
      throw new HttpError(405, `${request.method ?? ''} ${url.pathname} is not allowed`);
    } catch (error) {
      const status =
        error instanceof HttpError
          ? error.status
          : error instanceof Error && 'code' in error && error.code === 'CONTRACT_VIOLATION'
            ? 422
            : 500;
      send(
        page(
          'Error',
          html`<div class="error" role="alert">${(error as Error).message}</div>
            <p><a href="/">Back</a></p>`,
        ),
        status,
      );
    }
  }

  const server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8090, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
