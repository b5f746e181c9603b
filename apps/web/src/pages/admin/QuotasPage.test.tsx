import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Provider } from 'react-redux';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeStore } from '../../api/store.js';
import { QuotasPage } from './QuotasPage.js';

const json = (status: number, body: unknown) =>
  new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const now = new Date().toISOString();
const quota = (over: object) => ({ maxLabs: null, maxVcpus: null, maxMemoryMiB: null, createdAt: now, updatedAt: now, ...over });

describe('quotas page', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('lists quotas, saves one (blank limits: none) and shows the server’s reason for a refusal', async () => {
    const items = [quota({ scope: 'user', subject: 'u1', subjectName: 'alice', maxLabs: 1 })];
    const sent: { method: string; url: string; body: unknown }[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: Request) => {
        const body = input.method === 'PUT' ? await input.json() : undefined;
        sent.push({ method: input.method, url: new URL(input.url).pathname, body });
        if (input.method === 'GET') return json(200, { items });
        const subject = decodeURIComponent(new URL(input.url).pathname.split('/').pop()!);
        if (subject === 'wizard') return json(400, { error: { code: 'bad_request', message: 'Unknown role "wizard"' } });
        items.push(quota({ scope: 'role', subject, subjectName: subject, ...(body as object) }));
        return json(200, items.at(-1));
      }),
    );
    render(
      <Provider store={makeStore()}>
        <QuotasPage />
      </Provider>,
    );
    const table = await screen.findByRole('table', { name: 'quotas' });
    expect(within(await within(table).findByRole('row', { name: 'quota user alice' })).getAllByRole('cell')[2]!.textContent).toBe('1');
    const user = userEvent.setup();
    await user.type(screen.getByRole('spinbutton', { name: 'Concurrent labs' }), '2');
    await user.type(screen.getByRole('spinbutton', { name: 'Memory (MiB)' }), '1024');
    await user.click(screen.getByRole('button', { name: 'Save quota' }));
    expect(sent.find((r) => r.method === 'PUT')).toEqual({
      method: 'PUT',
      url: '/api/v1/quotas/role/student',
      body: { maxLabs: 2, maxVcpus: null, maxMemoryMiB: 1024 },
    });
    const row = await within(table).findByRole('row', { name: 'quota role student' });
    expect(
      within(row)
        .getAllByRole('cell')
        .map((c) => c.textContent),
    ).toEqual(['role', 'student', '2', '—', '1024 MiB', 'Delete']);

    await user.clear(screen.getByRole('textbox', { name: /Subject/ }));
    await user.type(screen.getByRole('textbox', { name: /Subject/ }), 'wizard');
    await user.click(screen.getByRole('button', { name: 'Save quota' }));
    expect(await screen.findByText(/Unknown role "wizard"/)).toBeTruthy();
  });
});
