import { createRequire } from 'node:module';

/** kafkajs's request queue, as far as the fix below touches it. */
interface RequestQueueLike {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  readonly pending: readonly unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's own interval for a queue that has pending requests and is not throttled. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

let fixed = false;

/**
 * kafkajs 2.2.4 (its last release) arms a timer with `throttledUntil - Date.now()` while `throttledUntil`
 * is still -1, on every connection. Node 24 reports that as `TimeoutNegativeWarning: -17964... is a
 * negative number`, and reports it once per process: the application's own negative timeout would then
 * go unreported. Node uses 1 ms for it, so this arms the same timer with 1 ms in the first place: no
 * warning is raised, none is filtered, and every other warning is untouched. Only 2.2.x is patched; on
 * any other kafkajs version nothing is changed.
 */
export function fixKafkaJsNegativeTimeout(): void {
  if (fixed) return;
  fixed = true;
  const require = createRequire(import.meta.url);
  const version = (require('kafkajs/package.json') as { version?: unknown }).version;
  if (typeof version !== 'string' || !version.startsWith('2.2.')) return;
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
    prototype: RequestQueueLike;
  };
  if (typeof RequestQueue.prototype?.scheduleCheckPendingRequests !== 'function') return;
  // kafkajs's method, with the delay kept at 1 ms or more.
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueLike): void {
    let scheduleAt = this.throttledUntil - Date.now();
    if (this.throttleCheckTimeoutId) return;
    if (this.pending.length > 0)
      scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL_MS;
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      Math.max(1, scheduleAt),
    );
  };
}
