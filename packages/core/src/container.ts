import type { Container } from 'inversify';
import { ContainerModule } from 'inversify';
import { Bus } from './bus.js';
import type { BusOptions } from './bus-options.js';

export type ContainerBusOptions<Tx = unknown> = Omit<BusOptions<Tx>, 'resolveHandler'>;

/**
 * A container module that binds every handler class (transient: a fresh instance per message, with its
 * dependencies injected) and the `Bus` (a singleton that resolves handlers from the container).
 *
 * ```ts
 * const container = new Container();
 * container.bind(PaymentGateway).to(FakeGateway);
 * container.load(omnibusModule({ transport, serviceName: 'payments', handlers: [PaymentHandlers] }));
 * const bus = container.get(Bus);
 * ```
 */
export function omnibusModule(options: ContainerBusOptions): ContainerModule {
  return new ContainerModule(({ bind, isBound }) => {
    for (const handlerClass of options.handlers ?? []) {
      if (!isBound(handlerClass)) bind(handlerClass).toSelf().inTransientScope();
    }
    bind(Bus)
      .toDynamicValue(
        (context) => new Bus({ ...options, resolveHandler: (handlerClass) => context.get(handlerClass) }),
      )
      .inSingletonScope();
  });
}

/** The same wiring without a module: binds the handler classes if needed and returns a new bus. */
export function createBus<Tx = unknown>(container: Container, options: ContainerBusOptions<Tx>): Bus<Tx> {
  for (const handlerClass of options.handlers ?? []) {
    if (!container.isBound(handlerClass)) container.bind(handlerClass).toSelf().inTransientScope();
  }
  return new Bus({ ...options, resolveHandler: (handlerClass) => container.get(handlerClass) });
}
