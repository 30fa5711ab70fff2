// A small typed key-value layer over idb-keyval, one IndexedDB database per store (idb-keyval's createStore
// makes one object store per database). Used by the activation store and free for others (checkpoints, runs).
// Operations are injectable so tests can simulate failures such as a full disk.
import { createStore, del, get, getMany, promisifyRequest, set, setMany, type UseStore } from 'idb-keyval';

export interface KvStore {
  get<T>(key: string): Promise<T | undefined>;
  getMany<T>(keys: string[]): Promise<(T | undefined)[]>;
  set(key: string, value: unknown): Promise<void>;
  /** All entries in one transaction: either all are written or none. */
  setMany(entries: [string, unknown][]): Promise<void>;
  del(key: string): Promise<void>;
  /** Keys starting with `prefix`, in order. */
  keysWithPrefix(prefix: string): Promise<string[]>;
  /** Values whose keys start with `prefix`, in key order. */
  valuesWithPrefix<T>(prefix: string): Promise<T[]>;
  /** Deletes every key in `keys` and every key starting with one of `prefixes`, in one transaction. */
  deleteAll(keys: string[], prefixes: string[]): Promise<void>;
}

/** Key range of all strings that start with `prefix`. */
function prefixRange(prefix: string): IDBKeyRange {
  return IDBKeyRange.bound(prefix, prefix + '\uffff');
}

/** A KvStore on database `dbName`, object store `storeName`. */
export function kvStore(dbName: string, storeName: string): KvStore {
  let use: UseStore | undefined;
  // Opening lazily lets modules import this in environments without IndexedDB (until it is used).
  const store = (): UseStore => {
    if (!use) {
      if (typeof indexedDB === 'undefined')
        throw new Error('IndexedDB is not available here; the activation and checkpoint stores need a browser (or fake-indexeddb in tests).');
      use = createStore(dbName, storeName);
    }
    return use;
  };
  return {
    get: (key) => get(key, store()),
    getMany: (keys) => getMany(keys, store()),
    set: (key, value) => set(key, value, store()),
    setMany: (entries) => setMany(entries, store()),
    del: (key) => del(key, store()),
    keysWithPrefix: (prefix) =>
      store()('readonly', (s) => promisifyRequest(s.getAllKeys(prefixRange(prefix)))).then((k) => k as string[]),
    valuesWithPrefix: <T>(prefix: string) => store()('readonly', (s) => promisifyRequest(s.getAll(prefixRange(prefix)))) as Promise<T[]>,
    deleteAll: (keys, prefixes) =>
      store()('readwrite', (s) => {
        for (const k of keys) s.delete(k);
        for (const p of prefixes) s.delete(prefixRange(p));
        return promisifyRequest(s.transaction);
      }),
  };
}
