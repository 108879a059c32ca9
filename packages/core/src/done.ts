/**
 * One promise, resolved once: what a step that finished synchronously returns (the memory transport's
 * settle and publish, a synchronous handler), so a caller can see by identity (`=== DONE`) that there
 * is nothing to wait for and skip the bookkeeping of a pending step.
 */
export const DONE: Promise<void> = Promise.resolve();
