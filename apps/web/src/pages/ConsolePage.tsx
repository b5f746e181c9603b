import '@xterm/xterm/css/xterm.css';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import RFB from '@novnc/novnc';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { useConsoleTicketMutation, useLabQuery } from '../api/api.js';

const wsUrl = (path: string) => `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}${path}`;

/** A VM's console in the browser: the serial terminal (xterm.js) or the screen (noVNC); reconnects after a blip. */
export function ConsolePage() {
  const { labId = '', vmId = '' } = useParams();
  const [params] = useSearchParams();
  const kind = params.get('kind') === 'vnc' ? 'vnc' : 'serial';
  const { data: lab } = useLabQuery(labId);
  const vm = lab?.vms.find((v) => v.id === vmId);
  const [ticket] = useConsoleTicketMutation();
  const host = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RFB | null>(null);
  const [state, setState] = useState<'connecting' | 'connected' | 'reconnecting' | 'failed'>('connecting');
  const [readOnly, setReadOnly] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const target = host.current;
    if (!target) return;
    let stopped = false;
    let attempt = 0;
    let socket: WebSocket | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const term = kind === 'serial' ? new Terminal({ convertEol: false, scrollback: 5000, cursorBlink: true, fontSize: 14 }) : undefined;
    const fit = new FitAddon();
    if (term) {
      term.loadAddon(fit);
      term.open(target);
      fit.fit();
      term.onData((data) => socket?.readyState === WebSocket.OPEN && socket.send(new TextEncoder().encode(data)));
    }
    const onResize = () => fit.fit();
    window.addEventListener('resize', onResize);

    const connect = async () => {
      const issued = await ticket({ vmId, kind });
      if (stopped) return;
      if (!('data' in issued) || !issued.data) {
        setState('failed');
        setProblem((issued.error as { data?: { error?: { message?: string } } })?.data?.error?.message ?? 'The console cannot be opened');
        return;
      }
      setReadOnly(issued.data.readOnly);
      if (kind === 'serial') {
        socket = new WebSocket(wsUrl(issued.data.url));
        socket.binaryType = 'arraybuffer';
        socket.onopen = () => {
          attempt = 0;
          setState('connected');
          term?.focus();
        };
        socket.onmessage = (m) => term?.write(new Uint8Array(m.data as ArrayBuffer));
        socket.onclose = () => retry();
      } else {
        const rfb = new RFB(target, wsUrl(issued.data.url), { shared: true });
        rfb.scaleViewport = true;
        rfb.viewOnly = issued.data.readOnly;
        rfb.addEventListener('connect', () => {
          attempt = 0;
          setState('connected');
        });
        rfb.addEventListener('disconnect', () => retry());
        rfbRef.current = rfb;
      }
    };
    const retry = () => {
      if (stopped) return;
      setState('reconnecting');
      timer = setTimeout(() => void connect(), Math.min(10_000, 500 * 2 ** attempt++));
    };
    void connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener('resize', onResize);
      socket?.close();
      rfbRef.current?.disconnect();
      term?.dispose();
    };
  }, [vmId, kind, ticket]);

  return (
    <Stack spacing={1} sx={{ height: 'calc(100vh - 140px)' }}>
      <Stack direction="row" spacing={2} sx={{ alignItems: 'center' }}>
        <Typography variant="h5" component="h1">
          {vm?.name ?? 'VM'} — {kind === 'serial' ? 'terminal' : 'screen'}
        </Typography>
        <Typography aria-live="polite" color={state === 'connected' ? 'success.main' : 'warning.main'}>
          {state}
        </Typography>
        {kind === 'vnc' && (
          <>
            <Button size="small" onClick={() => rfbRef.current?.sendCtrlAltDel()} disabled={readOnly}>
              Ctrl-Alt-Del
            </Button>
            <Button
              size="small"
              disabled={readOnly}
              onClick={async () => {
                // The guest's clipboard gets the browser's (noVNC sends it over RFB).
                const text = await navigator.clipboard?.readText().catch(() => null);
                if (text) rfbRef.current?.clipboardPasteFrom(text);
              }}
            >
              Send clipboard
            </Button>
          </>
        )}
        <Button size="small" component={Link} to={`/labs/${labId}`}>
          Back to the lab
        </Button>
        <Button size="small" component="a" href={window.location.href} target="_blank" rel="noreferrer">
          Open in a new tab
        </Button>
      </Stack>
      {readOnly && <Alert severity="info">You are watching read-only; the lab's users see that you are here.</Alert>}
      {problem && <Alert severity="error">{problem}</Alert>}
      <Box ref={host} data-testid={`console-${kind}`} sx={{ flexGrow: 1, bgcolor: 'black', minHeight: 360, overflow: 'hidden' }} />
    </Stack>
  );
}
