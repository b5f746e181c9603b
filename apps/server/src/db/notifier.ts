import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';

/** What a listener hears besides payloads: the channel was lost, or is listened to again. */
export interface ListenHandlers {
  onPayload(payload: string): void;
  /** The LISTEN connection broke: notifications may be missed until `onRestored`. */
  onLost?(): void;
  /** Listening again after a loss; whatever was missed meanwhile must be assumed changed. */
  onRestored?(): void;
}

/** NOTIFY/LISTEN on one channel, whichever engine runs the database. */
export interface Notifier {
  notify(payload: string): Promise<void>;
  listen(handlers: ListenHandlers): Promise<() => Promise<void>>;
}

/** The listeners of each channel of each embedded database. */
const pgliteListeners = new WeakMap<PGlite, Map<string, Set<(payload: string) => void>>>();

/**
 * NOTIFY/LISTEN inside PGlite's own process. An embedded database has no other process to tell,
 * so a payload goes straight to this process's listeners of the channel, without a query:
 * PGlite runs one query at a time on this process's thread, and a class start announces
 * hundreds of events a second. (Notifiers are not used inside transactions: every payload was
 * sent after its change committed, as a `pg_notify` outside a transaction would be.)
 */
export function pgliteNotifier(pglite: PGlite, channel: string): Notifier {
  const channels = pgliteListeners.get(pglite) ?? new Map<string, Set<(payload: string) => void>>();
  pgliteListeners.set(pglite, channels);
  const listeners = channels.get(channel) ?? new Set<(payload: string) => void>();
  channels.set(channel, listeners);
  return {
    notify: async (payload) => {
      for (const listener of [...listeners])
        queueMicrotask(() => {
          try {
            listener(payload);
          } catch {
            // A listener's failure is its own; the others still hear the payload.
          }
        });
    },
    // In-process: this "connection" cannot break.
    listen: async (handlers) => {
      const listener = (payload: string) => handlers.onPayload(payload);
      listeners.add(listener);
      return async () => void listeners.delete(listener);
    },
  };
}

// Reconnecting backs off from 0.5 s to 5 s: quick after a restart, gentle on a server that stays down.
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5000;

/** NOTIFY/LISTEN on a server through the pool: LISTEN on its own client, reconnected with backoff after a loss. */
export function poolNotifier(pool: pg.Pool, channel: string): Notifier {
  return {
    notify: async (payload) => void (await pool.query('select pg_notify($1, $2)', [channel, payload])),
    listen: async (handlers) => {
      let client: pg.PoolClient | undefined;
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      // LISTEN needs one connection of its own for as long as we listen; when it breaks, take a
      // new one and tell the listener, which cannot know what it missed meanwhile.
      const connect = async (): Promise<void> => {
        const next = await pool.connect();
        const lost = () => {
          if (client !== next) return;
          client = undefined;
          next.release(true);
          if (stopped) return;
          handlers.onLost?.();
          let delay = RECONNECT_MIN_MS;
          const retry = () => {
            timer = undefined;
            if (stopped) return;
            connect().then(
              () => (stopped ? undefined : handlers.onRestored?.()),
              () => {
                delay = Math.min(delay * 2, RECONNECT_MAX_MS);
                if (!stopped) timer = setTimeout(retry, delay);
              },
            );
          };
          timer = setTimeout(retry, delay);
        };
        next.on('notification', (message) => message.channel === channel && message.payload && handlers.onPayload(message.payload));
        next.on('error', lost);
        next.on('end', lost);
        try {
          await next.query(`listen ${channel}`);
        } catch (error) {
          next.release(true);
          throw error;
        }
        client = next;
      };
      await connect();
      return async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        const current = client;
        client = undefined;
        if (!current) return;
        await current.query(`unlisten ${channel}`).catch(() => {});
        current.release();
      };
    },
  };
}
