import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Account balances behind an asynchronous API, like a database table: every read and write
 * takes a moment, so two transfers that read-modify-write one account can interleave.
 */
export class Ledger {
  /** @param {Record<string, number>} balances  initial balances, in cents */
  constructor(balances) {
    /** @type {Map<string, number>} */
    this.balances = new Map(Object.entries(balances));
  }

  /**
   * @param {string} account
   * @returns {Promise<number | undefined>}
   */
  async read(account) {
    await sleep(1);
    return this.balances.get(account);
  }

  /**
   * @param {string} account
   * @param {number} balance
   */
  async write(account, balance) {
    await sleep(1);
    this.balances.set(account, balance);
  }
}

/**
 * One lock per key, in process: `run(key, fn)` waits for the previous holder of `key`, then runs
 * `fn`. What a row lock (`SELECT ... FOR UPDATE`) or a Redis lock does across processes.
 */
export class KeyedMutex {
  /** @type {Map<string, Promise<unknown>>} */
  #tails = new Map();

  /**
   * @template T
   * @param {string} key
   * @param {() => Promise<T>} fn
   * @returns {Promise<T>}
   */
  async run(key, fn) {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const current = previous.then(fn, fn);
    const tail = current.catch(() => {});
    this.#tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
