/** Unsubscribes a listener. Calling it more than once is harmless. */
export type Disposer = () => void;

/** A listener of an {@link Emitter} with up to two arguments. */
export type Listener<A = void, B = void> = (a: A, b: B) => void;

const NO_LISTENERS: readonly never[] = /* @__PURE__ */ Object.freeze([]);

/**
 * Reports an exception thrown by a listener without letting it corrupt the emitting component:
 * the component's state change has already happened, so the error is rethrown on its own turn
 * (where the runtime reports it as uncaught) instead of unwinding through the component.
 */
function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === 'function') {
    report(error);
    return;
  }
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * A typed event source. Components expose `onX(listener) → disposer` methods backed by one
 * emitter per event; emitting with no listener costs one length check, and components skip
 * building a payload unless {@link Emitter.listening} is true.
 *
 * Listeners run synchronously in subscription order. Subscribing or unsubscribing during an
 * emit takes effect from the next emit. A throwing listener does not stop the others.
 *
 * @example
 * ```ts
 * const drops = new Emitter<string, number>();
 * const off = drops.on((item, total) => console.log(`dropped ${item}, ${total} so far`));
 * drops.emit('a', 1);
 * off();
 * ```
 */
export class Emitter<A = void, B = void> {
  private listeners: readonly Listener<A, B>[] = NO_LISTENERS;

  /** True when at least one listener is subscribed. */
  get listening(): boolean {
    return this.listeners.length !== 0;
  }

  /** Subscribes `listener`; returns a disposer that unsubscribes it. */
  on(listener: Listener<A, B>): Disposer {
    if (typeof listener !== 'function') {
      throw new TypeError(`listener must be a function; received ${typeof listener}`);
    }
    // Copy on write: an emit in progress keeps iterating its own snapshot.
    this.listeners = [...this.listeners, listener];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const index = this.listeners.indexOf(listener);
      if (index < 0) return;
      const next = this.listeners.slice();
      next.splice(index, 1);
      this.listeners = next.length === 0 ? NO_LISTENERS : next;
    };
  }

  /** Calls every listener with `a` and `b`. */
  emit(a: A, b: B): void {
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as Listener<A, B>)(a, b);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }

  /** Unsubscribes every listener. */
  clear(): void {
    this.listeners = NO_LISTENERS;
  }
}
