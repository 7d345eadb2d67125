/** Listening side of a typed event: `subscribe` returns the function that ends the subscription. */
export interface Subscribable<T> {
  subscribe(listener: (event: T) => void): () => void;
}

/** A typed event with any number of listeners, called in order of subscription. */
export class Subscribers<T> implements Subscribable<T> {
  private readonly listeners = new Set<(event: T) => void>();

  subscribe(listener: (event: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: T): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}
