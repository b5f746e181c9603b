import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Provider } from 'react-redux';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Host } from '@ctp/contracts';
import { makeStore } from '../../api/store.js';
import { HostsPage } from './HostsPage.js';

const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });

const host = (over: Partial<Host>): Host => ({
  id: '00000000-0000-4000-8000-000000000001',
  name: 'hv1',
  address: null,
  state: 'up',
  accelerator: 'kvm',
  driver: 'qemu',
  capacity: { cpus: 8, memoryMiB: 16384, diskBytes: 10 ** 11 },
  use: { cpus: 3, memoryMiB: 2048 },
  labs: 2,
  vms: 3,
  lastHeartbeatAt: '2026-01-01T10:00:00.000Z',
  createdAt: '2026-01-01T09:00:00.000Z',
  ...over,
});

describe('hosts page', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('shows each host with its state, use of capacity and labs, and drains and undrains through the API', async () => {
    let hosts = [host({}), host({ id: '00000000-0000-4000-8000-000000000002', name: 'hv2', state: 'down', labs: 0, vms: 0 })];
    const posts: string[] = [];
    vi.stubGlobal('fetch', async (request: Request) => {
      if (request.method === 'POST') {
        posts.push(new URL(request.url).pathname);
        const drained = request.url.endsWith('/drain');
        hosts = hosts.map((h) => (request.url.includes(h.id) ? { ...h, state: drained ? 'draining' : 'up' } : h));
        return json(hosts.find((h) => request.url.includes(h.id)));
      }
      return json({ items: hosts });
    });
    render(
      <Provider store={makeStore()}>
        <HostsPage />
      </Provider>,
    );
    const row = await screen.findByTestId('host-hv1');
    expect(row.textContent).toContain('3 / 8 vCPUs');
    expect(row.textContent).toContain('2.0 GiB / 16.0 GiB');
    expect(row.textContent).toContain('2 labs, 3 VMs');
    expect(within(screen.getByTestId('host-hv2')).getByText('down')).toBeTruthy();

    await userEvent.click(within(row).getByRole('button', { name: 'Drain hv1' }));
    await waitFor(() => expect(within(screen.getByTestId('host-hv1')).getByText('draining')).toBeTruthy());
    await userEvent.click(within(screen.getByTestId('host-hv1')).getByRole('button', { name: 'Undrain hv1' }));
    await waitFor(() => expect(within(screen.getByTestId('host-hv1')).getByText('up')).toBeTruthy());
    expect(posts).toEqual([`/api/v1/hosts/${hosts[0]!.id}/drain`, `/api/v1/hosts/${hosts[0]!.id}/undrain`]);
  });
});
