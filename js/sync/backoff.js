// Reconnect delays: exponential with jitter, so many clients that lost one server do not all
// come back in the same millisecond.

export class Backoff {
  #attempt = 0;

  /** @param {{ min?: number, max?: number, random?: () => number }} [opts] ms */
  constructor(opts = {}) {
    this.min = opts.min ?? 250;
    this.max = opts.max ?? 30_000;
    this.random = opts.random ?? Math.random;
  }

  /** The delay before the next attempt: doubles each time, between half and all of it. */
  next() {
    const full = Math.min(this.max, this.min * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return Math.round(full / 2 + (this.random() * full) / 2);
  }

  /** A connection worked: the next failure starts again from the shortest delay. */
  reset() {
    this.#attempt = 0;
  }
}
