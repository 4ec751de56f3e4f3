// The owner's side of js/forwarder.js: the instance holding a database's lock merges the
// changes other live instances of that database send it, writes them to storage like any
// merged message, and acknowledges each once durable (or says why it failed). It announces
// itself when it takes over, so writes sent to an owner that died are sent again.

import { storageChannelName } from "./forwarder.js";
import { nextTask } from "./persistence.js";

export class StorageHost {
  /** @type {BroadcastChannel} */
  #channel;
  /**
   * @type {(bytes: Uint8Array) => Promise<void> | null} merges, resolving once durable; null:
   *   not now (the owner reloads its durable state; it announces itself once done)
   */
  #merge;
  #closed = false;

  /**
   * @param {string} key what names the storage (the database name for IndexedDB)
   * @param {(bytes: Uint8Array) => Promise<void> | null} merge
   */
  constructor(key, merge) {
    this.#merge = merge;
    this.#channel = new BroadcastChannel(storageChannelName(key));
    /** @type {any} */ (this.#channel).unref?.(); // (Node) an idle channel keeps no process alive
    this.#channel.onmessage = (e) => this.#receive(e.data);
    this.announce();
  }

  /** Tells every sender to send what it has not seen acknowledged (to this owner). */
  announce() {
    if (this.#closed) return;
    /** @type {import("./forwarder.js").OwnerMessage} */
    const hello = { t: "owner" };
    this.#channel.postMessage(hello);
  }

  /** @param {unknown} data */
  #receive(data) {
    const msg = /** @type {import("./forwarder.js").WriteMessage} */ (data);
    if (this.#closed || msg?.t !== "write" || typeof msg.from !== "string") return;
    if (!Number.isSafeInteger(msg.n) || !(msg.bytes instanceof Uint8Array)) return;
    let durable;
    try {
      durable = this.#merge(msg.bytes);
    } catch (err) {
      durable = Promise.reject(err);
    }
    if (durable === null) return;
    durable.then(
      () => this.#ack(msg, undefined),
      (/** @type {any} */ err) => this.#ack(msg, { name: String(err?.name ?? "Error"), message: String(err?.message ?? err) }),
    );
  }

  /**
   * @param {import("./forwarder.js").WriteMessage} msg
   * @param {{ name: string, message: string } | undefined} error
   */
  #ack(msg, error) {
    /** @type {import("./forwarder.js").AckMessage} */
    const ack = error ? { t: "ack", to: msg.from, n: msg.n, error } : { t: "ack", to: msg.from, n: msg.n };
    try {
      this.#channel.postMessage(ack);
    } catch {
      // closed meanwhile: the sender sends it again to the next owner
    }
  }

  /**
   * Stops taking writes; acknowledgements of writes already taken still go out once `stored`
   * (the owner's last storage write) settles.
   * @param {Promise<void>} stored
   */
  close(stored) {
    this.#closed = true;
    const done = () => nextTask(() => this.#channel.close());
    stored.then(done, done);
  }
}
