import { describe, expect, it } from 'vitest';
import { attemptsLeft, labScore, mayAttempt, taskScore, taskState, taskWorth } from './scoring.js';

const task = {
  points: 10,
  hints: [
    { id: 'a', text: 'A', cost: 3 },
    { id: 'b', text: 'B', cost: 5 },
    { id: 'free', text: 'F' },
  ],
};
const progress = (over: Partial<Parameters<typeof taskScore>[1]> = {}) => ({
  solved: true,
  attempts: 1,
  revealedHints: [] as string[],
  solutionRevealed: false,
  ...over,
});

describe('scoring', () => {
  it('awards the full points when solved without hints, nothing when unsolved', () => {
    expect(taskScore(task, progress())).toBe(10);
    expect(taskScore(task, progress({ solved: false }))).toBe(0);
    expect(taskScore(task, progress({ solved: false, revealedHints: ['a'] }))).toBe(0);
  });

  it('subtracts the cost of each revealed hint of the task, and only those', () => {
    expect(taskScore(task, progress({ revealedHints: ['a'] }))).toBe(7);
    expect(taskScore(task, progress({ revealedHints: ['b'] }))).toBe(5);
    expect(taskScore(task, progress({ revealedHints: ['a', 'b'] }))).toBe(2);
    expect(taskScore(task, progress({ revealedHints: ['free'] }))).toBe(10);
    expect(taskScore(task, progress({ revealedHints: ['other-task-hint'] }))).toBe(10);
  });

  it('floors the score at 0', () => {
    const cheap = {
      points: 4,
      hints: [
        { id: 'a', text: 'x', cost: 3 },
        { id: 'b', text: 'y', cost: 3 },
      ],
    };
    expect(taskScore(cheap, progress({ revealedHints: ['a', 'b'] }))).toBe(0);
    expect(taskWorth(cheap, { revealedHints: ['a', 'b'], solutionRevealed: false })).toBe(0);
    expect(taskWorth(cheap, { revealedHints: ['a'], solutionRevealed: false })).toBe(1);
  });

  it('makes a task worth 0 once its solution is revealed', () => {
    expect(taskScore(task, progress({ solutionRevealed: true }))).toBe(0);
    expect(taskWorth(task, { revealedHints: [], solutionRevealed: true })).toBe(0);
    expect(taskWorth(task, { revealedHints: [], solutionRevealed: false })).toBe(10);
  });

  it('treats missing points as 0', () => {
    expect(taskScore({}, progress())).toBe(0);
    expect(taskWorth({ hints: [{ id: 'a', text: 't', cost: 1 }] }, { revealedHints: ['a'], solutionRevealed: false })).toBe(0);
  });

  it('counts attempts against maxAttempts; unlimited without it', () => {
    expect(attemptsLeft({}, 50)).toBeNull();
    expect(mayAttempt({}, 50)).toBe(true);
    expect(attemptsLeft({ maxAttempts: 3 }, 0)).toBe(3);
    expect(attemptsLeft({ maxAttempts: 3 }, 2)).toBe(1);
    expect(mayAttempt({ maxAttempts: 3 }, 2)).toBe(true);
    expect(attemptsLeft({ maxAttempts: 3 }, 3)).toBe(0);
    expect(mayAttempt({ maxAttempts: 3 }, 3)).toBe(false);
    expect(attemptsLeft({ maxAttempts: 3 }, 7)).toBe(0);
    expect(mayAttempt({ maxAttempts: 1 }, 1)).toBe(false);
    expect(mayAttempt({ maxAttempts: 1 }, 0)).toBe(true);
  });

  it('locks a task until every required task is solved', () => {
    expect(taskState({}, false, new Set())).toBe('open');
    expect(taskState({ requires: ['a', 'b'] }, false, new Set(['a']))).toBe('locked');
    expect(taskState({ requires: ['a', 'b'] }, false, new Set(['a', 'b']))).toBe('open');
    expect(taskState({ requires: ['a'] }, true, new Set())).toBe('solved');
    expect(taskState({ requires: [] }, false, new Set())).toBe('open');
  });

  it('adds up a lab score and its maximum', () => {
    expect(labScore([{ points: 10 }, { points: 5 }, {}], [7, 0, 0])).toEqual({ score: 7, maxScore: 15 });
    expect(labScore([], [])).toEqual({ score: 0, maxScore: 0 });
  });
});
