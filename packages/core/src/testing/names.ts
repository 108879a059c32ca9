import { randomBytes } from 'node:crypto';

/** A fresh name per test (channel, queue, group), so tests never see each other's messages. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
