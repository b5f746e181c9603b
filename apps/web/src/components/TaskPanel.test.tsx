import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Provider } from 'react-redux';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LabTask, LabTasks } from '@ctp/contracts';
import { makeStore } from '../api/store.js';
import { TaskPanel } from './TaskPanel.js';

const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });

const task = (over: Partial<LabTask>): LabTask => ({
  id: 't',
  title: 'T',
  type: 'answer',
  body: '',
  points: 10,
  worth: 10,
  awarded: 0,
  state: 'open',
  requires: [],
  attempts: 0,
  attemptsLeft: null,
  hints: [],
  solutionAvailable: false,
  solutionRevealed: false,
  ...over,
});

describe('task panel', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('renders Markdown without raw HTML or script links, asks before a paid hint, and submits answers', async () => {
    let tasks: LabTasks = {
      score: 0,
      maxScore: 10,
      tasks: [
        task({
          id: 'flag',
          title: 'Find the flag',
          body: '**Bold** <img src=x onerror="window.pwned=1"><script>window.pwned=2</script> [click](javascript:alert(1))',
          hints: [{ id: 'h', cost: 3, revealed: false }],
        }),
        task({ id: 'later', title: 'Later', state: 'locked', requires: ['flag'] }),
      ],
    };
    const calls: { url: string; method: string; body: string }[] = [];
    vi.stubGlobal('fetch', async (request: Request) => {
      calls.push({ url: request.url, method: request.method, body: request.method === 'POST' ? await request.text() : '' });
      if (request.url.endsWith('/hints/h')) {
        tasks = {
          ...tasks,
          tasks: [{ ...tasks.tasks[0]!, worth: 7, hints: [{ id: 'h', cost: 3, revealed: true, text: 'Look in /srv' }] }, tasks.tasks[1]!],
        };
        return json({ id: 'h', text: 'Look in /srv', cost: 3, task: tasks.tasks[0] });
      }
      if (request.url.endsWith('/answers')) return json({ correct: false, awarded: 0, attemptsLeft: null, task: tasks.tasks[0] });
      return json(tasks);
    });
    render(
      <Provider store={makeStore()}>
        <TaskPanel labId="lab-1" />
      </Provider>,
    );
    const card = await screen.findByRole('region', { name: 'task Find the flag' });
    expect(within(card).getByText('Bold').tagName).toBe('STRONG');
    expect(card.querySelector('img, script')).toBeNull();
    expect(within(card).getByText('click').getAttribute('href') ?? '').not.toContain('javascript');
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
    expect(screen.getByRole('region', { name: 'task Later' }).textContent).toContain('Locked until flag solved');

    const user = userEvent.setup();
    await user.click(within(card).getByRole('button', { name: 'Hint 1 (costs 3 points)' }));
    const dialog = await screen.findByRole('dialog');
    expect(dialog.textContent).toContain('This hint costs 3 points');
    expect(calls.some((c) => c.url.includes('/hints/'))).toBe(false);
    await user.click(within(dialog).getByRole('button', { name: 'Reveal' }));
    expect(await within(card).findByText('Look in /srv')).toBeTruthy();
    // The closing dialog keeps the page hidden from assistive technology until it is gone.
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(card.textContent).toContain('worth 7 of 10 points');

    await user.type(within(card).getByLabelText('Answer to Find the flag'), 'CTP{{nope}');
    await user.click(within(card).getByRole('button', { name: 'Submit' }));
    expect(await within(card).findByText(/Not correct/)).toBeTruthy();
    expect(calls.find((c) => c.url.endsWith('/labs/lab-1/tasks/flag/answers'))?.body).toBe(JSON.stringify({ answer: 'CTP{nope}' }));
  });
});
