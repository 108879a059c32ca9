import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export type SampleService = 'order-service' | 'inventory-service' | 'payment-service';

/** The `main` script of a service package (built), beside this one in apps/. */
export function mainOf(service: SampleService): string {
  return fileURLToPath(new URL(`../../../${service}/dist/src/main.js`, import.meta.url));
}

/** What a service prints on stdout once it takes work. */
export interface ReadyLine {
  readonly ready: true;
  readonly service: string;
  readonly pid: number;
  readonly url?: string;
}

/**
 * A sample service as a child process: started with its environment, ready when it prints its ready
 * line. Its stderr is kept (the last lines) to explain a failure.
 */
export class ServiceProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  readonly #stderr: string[] = [];
  ready: ReadyLine | undefined;

  private constructor(
    readonly name: string,
    child: ChildProcess,
  ) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.#stderr.push(line);
      if (this.#stderr.length > 40) this.#stderr.shift();
    });
  }

  /** Starts `service` and waits (up to `timeoutMs`) for its ready line; rejects with its stderr if it exits first. */
  static async start(
    name: string,
    service: SampleService,
    env: Readonly<Record<string, string>>,
    timeoutMs = 60_000,
  ): Promise<ServiceProcess> {
    const child = spawn(process.execPath, [mainOf(service)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const running = new ServiceProcess(name, child);
    const lines = createInterface({ input: child.stdout });
    const ready = await new Promise<ReadyLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${name} was not ready within ${timeoutMs} ms\n${running.stderrTail()}`));
      }, timeoutMs);
      lines.on('line', (line) => {
        if (!line.startsWith('{')) return;
        const parsed = JSON.parse(line) as Partial<ReadyLine>;
        if (parsed.ready === true) {
          clearTimeout(timer);
          resolve(parsed as ReadyLine);
        }
      });
      void running.#exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${String(code)} before it was ready\n${running.stderrTail()}`));
      });
    });
    running.ready = ready;
    return running;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  stderrTail(): string {
    return this.#stderr.join('\n');
  }

  /** SIGKILL: no drain, no goodbye, as a crash. Resolves once the process is gone. */
  async kill(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM (a graceful stop), SIGKILL after `timeoutMs`; resolves with the exit code. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return this.#child.exitCode;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }
}
