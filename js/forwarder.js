// The write pipeline of an instance that does not own its database's storage (another live
// instance, in this tab, another tab or a worker, holds the database lock): it never writes
// to storage itself. Once per task it sends the owner, over a BroadcastChannel, every change
// it has not sent the owner before (`changesSince` of the version its last message brought the
// owner to, which storage held at first); the owner
// merges them, writes them in one storage write like any merged message, and acknowledges
// once that write is durable. Only then do the calls resolve and their `update` events fire.
// A new owner (the old one closed or died) announces itself, and the writes not yet
// acknowledged are sent to it again (merging is idempotent). Protocol: js/storage_host.js.

import { CRDTDBError, QuotaError } from "./errors.js";
import { addToBatch, newBatch, nextTask } from "./persistence.js";

/**
 * The BroadcastChannel name of a database's storage traffic.
 * @param {string} key what names the storage (the database name for IndexedDB)
 */
export const storageChannelName = (key) => `crdtdb:storage:${key}`;

/**
 * @typedef {{ t: "write", from: string, n: number, bytes: Uint8Array }} WriteMessage
 * @typedef {{ t: "ack", to: string, n: number, error?: { name: string, message: string } }} AckMessage
 * @typedef {{ t: "owner" }} OwnerMessage
 */

/**
 * The error an owner reported for a forwarded write, as the class it had there.
 * @param {{ name: string, message: string }} e
 */
function ownerError(e) {
  const message = `the instance that owns this database's storage could not write it: ${e.message}`;
  return e.name === "QuotaError" ? new QuotaError(message) : new CRDTDBError(message);
}

export class Forwarder {
  /** @type {BroadcastChannel} */
  #channel;
  /** @type {() => import("./engine.js").Engine} the replica's current engine */
  #engine;
  /** @type {(updates: import("./persistence.js").Batch["updates"]) => void} */
  #onDurable;
  /** @type {(err: CRDTDBError, rows: import("./persistence.js").Batch["rows"]) => void} */
  #onFailure;
  /** This instance on the channel (acknowledgements are addressed to it). */
  #id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  /**
   * @type {Uint8Array} the version the last message brought the owner to (once it takes in
   *   every message in order; a message carries what is new since the one before)
   */
  #sentUpTo;
  /** @type {import("./persistence.js").Batch | null} calls not yet sent */
  #batch = null;
  /** @type {Array<{ n: number, bytes: Uint8Array, batch: import("./persistence.js").Batch }>} sent, in order, not yet acknowledged */
  #sent = [];
  #n = 0;
  #closed = false;
  /** A write failed and the durable state is not reloaded yet: nothing more may be sent. */
  #failed = false;
  /** @type {(() => void) | null} settles close() once nothing is outstanding */
  #drained = null;

  /**
   * @param {string} key what names the storage (the database name for IndexedDB)
   * @param {() => import("./engine.js").Engine} engine
   * @param {Uint8Array} acked the version loaded from storage
   * @param {(updates: import("./persistence.js").Batch["updates"]) => void} onDurable
   * @param {(err: CRDTDBError, rows: import("./persistence.js").Batch["rows"]) => void} onFailure
   */
  constructor(key, engine, acked, onDurable, onFailure) {
    this.#engine = engine;
    this.#sentUpTo = acked;
    this.#onDurable = onDurable;
    this.#onFailure = onFailure;
    this.#channel = new BroadcastChannel(storageChannelName(key));
    this.#idle();
    this.#channel.onmessage = (e) => this.#receive(e.data);
  }

  /**
   * Registers a committed call.
   * @param {Uint8Array | null} update its encoded events, if anything listens
   * @param {string | object} origin
   * @param {Array<{ table: string, key: string }>} rows rows whose visible state it changed
   * @returns {Promise<void>} resolves once the owner made it durable
   */
  note(update, origin, rows) {
    let b = this.#batch;
    if (b === null) {
      b = this.#batch = newBatch();
      nextTask(() => this.#send());
    }
    return addToBatch(b, update, origin, rows);
  }

  /** Sends the calls not yet sent, as one message. */
  #send() {
    const b = this.#batch;
    if (b === null || this.#failed) return;
    this.#batch = null;
    let bytes, version;
    try {
      const engine = this.#engine();
      version = engine.version();
      bytes = engine.changesSince(this.#sentUpTo);
    } catch (err) {
      this.#fail(new CRDTDBError(`could not hand the changes to storage: ${/** @type {any} */ (err)?.message ?? err}`, { cause: err }), b);
      return;
    }
    const m = { n: ++this.#n, bytes, batch: b };
    this.#sentUpTo = version;
    this.#sent.push(m);
    /** @type {any} */ (this.#channel).ref?.(); // (Node) the acknowledgement is awaited
    this.#post(m);
  }

  /** @param {{ n: number, bytes: Uint8Array }} m */
  #post(m) {
    /** @type {WriteMessage} */
    const msg = { t: "write", from: this.#id, n: m.n, bytes: m.bytes };
    this.#channel.postMessage(msg);
  }

  /** @param {AckMessage | OwnerMessage | WriteMessage} msg */
  #receive(msg) {
    if (msg?.t === "owner") {
      // A new owner (or one that reloaded): what was not acknowledged goes to it again, in
      // order (merging is idempotent).
      for (const m of this.#sent) this.#post(m);
      return;
    }
    if (msg?.t !== "ack" || msg.to !== this.#id) return;
    const m = this.#sent[0];
    if (m === undefined || m.n !== msg.n) return; // a duplicate acknowledgement
    this.#sent.shift();
    if (msg.error) {
      this.#fail(ownerError(msg.error), m.batch);
      return;
    }
    m.batch.resolve();
    this.#onDurable(m.batch.updates);
    this.#checkDrained();
  }

  /**
   * @param {CRDTDBError} error
   * @param {import("./persistence.js").Batch} b
   */
  #fail(error, b) {
    // Later calls were built on the failed ones: none of them can become durable either.
    const failed = [b, ...this.#sent.map((m) => m.batch)];
    this.#sent = [];
    if (this.#batch !== null) failed.push(this.#batch);
    this.#batch = null;
    for (const x of failed) x.reject(error);
    this.#failed = true;
    if (!this.#closed) this.#onFailure(error, failed.flatMap((x) => x.rows));
    this.#checkDrained();
  }

  /**
   * The replica reloaded its durable state after a failure: sending may go on from it.
   * @param {Uint8Array} acked the version reloaded from storage
   */
  recovered(acked) {
    this.#sentUpTo = acked;
    this.#failed = false;
  }

  /** @returns {boolean} whether calls wait for the owner */
  get outstanding() {
    return this.#batch !== null || this.#sent.length > 0;
  }

  /**
   * Stops forwarding: this instance became the owner. Returns the calls not yet acknowledged
   * (the new owner's first storage write settles them).
   * @returns {import("./persistence.js").Batch[]}
   */
  handOver() {
    const pending = this.#sent.map((m) => m.batch);
    if (this.#batch !== null) pending.push(this.#batch);
    this.#sent = [];
    this.#batch = null;
    this.#failed = true;
    this.#channel.close();
    this.#checkDrained();
    return pending;
  }

  #checkDrained() {
    if (this.outstanding) return;
    this.#idle();
    if (this.#drained !== null) this.#drained();
  }

  /** (Node) A channel that awaits nothing keeps no process alive. */
  #idle() {
    /** @type {any} */ (this.#channel).unref?.();
  }

  /**
   * Sends what was not yet sent; settles once every sent call is acknowledged, failed, or
   * handed over (the owner died and this instance took its place).
   * @returns {Promise<void>}
   */
  close() {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#failed && this.#batch !== null) {
      // The engine still holds what failed: none of it may reach storage now.
      this.#batch.reject(new CRDTDBError("storage failed before close: these writes were not made durable"));
      this.#batch = null;
    }
    this.#send();
    return new Promise((resolve) => {
      this.#drained = () => {
        this.#drained = null;
        this.#channel.close();
        resolve();
      };
      this.#checkDrained();
    });
  }
}
