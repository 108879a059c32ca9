/**
 * Runs async tasks one at a time, in call order. One SQLite connection holds at most one transaction, and
 * a unit of work keeps its transaction open across the handler's awaits, so every use of the connection
 * (units of work, relay claims, purges) takes its turn here.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
