import { useEffect } from 'react';
import type { EventTicket, LabEvent } from '@ctp/contracts';
import { api } from './api.js';
import { liveChanged } from './session.slice.js';
import { useAppDispatch, useAppSelector } from './store.js';

export type NoticeListener = (event: LabEvent) => void;
const noticeListeners = new Set<NoticeListener>();

/** Events worth telling the user about at once, wherever they are in the app. */
const NOTICES = new Set(['lab.expiring', 'console.watching']);

/** Subscribes to notices: `lab.expiring` (time is running out) and `console.watching` (staff watch a console). */
export function onNotice(listener: NoticeListener): () => void {
  noticeListeners.add(listener);
  return () => noticeListeners.delete(listener);
}

/**
 * Keeps the API cache live: a WebSocket of lab events (opened with a single-use ticket) that
 * invalidates the labs it names, reconnecting with backoff; after a reconnect everything is
 * refetched, so nothing missed stays stale.
 */
export function useLiveEvents(): void {
  const dispatch = useAppDispatch();
  const token = useAppSelector((s) => s.session.accessToken);
  const signedIn = token !== null;
  useEffect(() => {
    if (!signedIn) return;
    let socket: WebSocket | undefined;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = async () => {
      try {
        const ticket: EventTicket = await dispatch(api.endpoints.eventTicket.initiate()).unwrap();
        if (stopped) return;
        const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
        socket = new WebSocket(`${scheme}://${window.location.host}${ticket.url}`);
        socket.onopen = () => {
          if (attempt > 0) dispatch(api.util.invalidateTags(['LabList', 'Lab', 'System', 'Tasks', 'Assignment', 'Help']));
          attempt = 0;
          dispatch(liveChanged(true));
        };
        socket.onmessage = (message) => {
          const event = JSON.parse(String(message.data)) as LabEvent | { type: 'ready' };
          if (!('labId' in event)) return;
          dispatch(
            api.util.invalidateTags(
              event.type.startsWith('task.')
                ? [{ type: 'Tasks', id: event.labId }, 'Progress']
                : event.type === 'class.announcement'
                  ? ['Announcements']
                  : event.type.startsWith('help.')
                    ? ['Help', { type: 'Help', id: event.labId }]
                    : [{ type: 'Lab', id: event.labId }, 'LabList', 'System', 'Assignment', 'Progress'],
            ),
          );
          if (NOTICES.has(event.type)) for (const listener of noticeListeners) listener(event);
        };
        socket.onclose = () => retry();
      } catch {
        retry();
      }
    };
    const retry = () => {
      dispatch(liveChanged(false));
      if (stopped) return;
      const delay = Math.min(30_000, 500 * 2 ** attempt++);
      timer = setTimeout(() => void connect(), delay);
    };
    void connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [signedIn, dispatch]);
}
