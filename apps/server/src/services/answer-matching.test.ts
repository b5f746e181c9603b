import { describe, expect, it } from 'vitest';
import { isCorrect, isValidRegex, items, matchesAnswer, normalize, solutionText, taskType } from './answer-matching.js';

const secrets = { flag: 'CTP{0123abcd}', empty: '' };

describe('answer matching', () => {
  it('equals: exact after trimming and collapsing spaces; case-insensitive on request', () => {
    expect(matchesAnswer({ equals: 'Hello world' }, '  Hello   world ', secrets)).toBe(true);
    expect(matchesAnswer({ equals: 'Hello world' }, 'hello world', secrets)).toBe(false);
    expect(matchesAnswer({ equals: 'Hello world', caseInsensitive: true }, 'HELLO WORLD', secrets)).toBe(true);
    expect(matchesAnswer({ equals: 'Hello world', caseInsensitive: true }, 'HELLO THERE', secrets)).toBe(false);
    expect(matchesAnswer({ equals: 'Hello' }, 'Hello!', secrets)).toBe(false);
  });

  it('regex: must match the whole answer; case-insensitive on request; a broken regex matches nothing', () => {
    expect(matchesAnswer({ regex: 'ssh|http' }, 'ssh', secrets)).toBe(true);
    expect(matchesAnswer({ regex: 'ssh|http' }, 'not ssh at all', secrets)).toBe(false);
    expect(matchesAnswer({ regex: 'ssh' }, 'SSH', secrets)).toBe(false);
    expect(matchesAnswer({ regex: 'ssh', caseInsensitive: true }, 'SSH', secrets)).toBe(true);
    expect(matchesAnswer({ regex: '(' }, '(', secrets)).toBe(false);
    expect(isValidRegex('(')).toBe(false);
    expect(isValidRegex('a+')).toBe(true);
  });

  it('secret: the lab value, exactly (spaces trimmed), never an empty or unknown secret', () => {
    expect(matchesAnswer({ secret: 'flag' }, ' CTP{0123abcd} ', secrets)).toBe(true);
    expect(matchesAnswer({ secret: 'flag' }, 'ctp{0123abcd}', secrets)).toBe(false);
    expect(matchesAnswer({ secret: 'flag' }, 'CTP{0123abcd}x', secrets)).toBe(false);
    expect(matchesAnswer({ secret: 'empty' }, ' ', secrets)).toBe(false);
    expect(matchesAnswer({ secret: 'nope' }, 'anything', secrets)).toBe(false);
  });

  it('set: every item, in any order and spacing, nothing more or less', () => {
    const ports = { set: ['22', '80', '4444'] };
    expect(matchesAnswer(ports, '22,80,4444', secrets)).toBe(true);
    expect(matchesAnswer(ports, '4444 22   80', secrets)).toBe(true);
    expect(matchesAnswer(ports, ' 80, 4444;22 ', secrets)).toBe(true);
    expect(matchesAnswer(ports, '22 80', secrets)).toBe(false);
    expect(matchesAnswer(ports, '22 80 4444 8080', secrets)).toBe(false);
    expect(matchesAnswer({ set: ['SSH', 'HTTP'] }, 'ssh http', secrets)).toBe(false);
    expect(matchesAnswer({ set: ['SSH', 'HTTP'], caseInsensitive: true }, 'http ssh', secrets)).toBe(true);
    // As many items as expected is not enough: each expected item must be there.
    expect(matchesAnswer(ports, '22 80 8080', secrets)).toBe(false);
    expect(matchesAnswer(ports, '22 22 80 4444', secrets)).toBe(true);
  });

  it('choice: exactly the correct options, one or several', () => {
    const one = {
      id: 't',
      title: 'T',
      options: [
        { id: 'a', text: 'A', correct: true },
        { id: 'b', text: 'B' },
      ],
    };
    expect(isCorrect(one, ['a'], secrets)).toBe(true);
    expect(isCorrect(one, ['b'], secrets)).toBe(false);
    expect(isCorrect(one, ['a', 'b'], secrets)).toBe(false);
    const several = {
      id: 't',
      title: 'T',
      options: [
        { id: 'a', text: 'A', correct: true },
        { id: 'b', text: 'B', correct: true },
        { id: 'c', text: 'C' },
      ],
    };
    expect(isCorrect(several, ['b', 'a'], secrets)).toBe(true);
    expect(isCorrect(several, 'a b', secrets)).toBe(true);
    expect(isCorrect(several, ['a'], secrets)).toBe(false);
    expect(isCorrect(several, ['a', 'b', 'c'], secrets)).toBe(false);
    expect(isCorrect(several, ['a', 'c'], secrets)).toBe(false);
    // A choice without a correct option is solved by nothing, not even by choosing nothing.
    const none = {
      id: 't',
      title: 'T',
      options: [
        { id: 'a', text: 'A' },
        { id: 'b', text: 'B' },
      ],
    };
    expect(isCorrect(none, [], secrets)).toBe(false);
    expect(isCorrect(none, '', secrets)).toBe(false);
    expect(isCorrect(none, ['a'], secrets)).toBe(false);
  });

  it('any accepted answer solves; a list never solves a text task; no answers solve nothing', () => {
    const task = { id: 't', title: 'T', answers: [{ equals: 'x' }, { secret: 'flag' }] };
    expect(isCorrect(task, 'x', secrets)).toBe(true);
    expect(isCorrect(task, 'CTP{0123abcd}', secrets)).toBe(true);
    expect(isCorrect(task, 'y', secrets)).toBe(false);
    expect(isCorrect(task, ['x'], secrets)).toBe(false);
    expect(isCorrect({ id: 't', title: 'T' }, 'x', secrets)).toBe(false);
  });

  it('knows a task type from what it holds', () => {
    expect(taskType({ id: 't', title: 'T' })).toBe('info');
    expect(taskType({ id: 't', title: 'T', answers: [{ equals: 'x' }] })).toBe('answer');
    expect(
      taskType({
        id: 't',
        title: 'T',
        options: [
          { id: 'a', text: 'a' },
          { id: 'b', text: 'b' },
        ],
      }),
    ).toBe('choice');
    expect(taskType({ id: 't', title: 'T', check: { vm: 'a', run: 'true' } })).toBe('check');
    expect(taskType({ id: 't', title: 'T', type: 'info', answers: [{ equals: 'x' }] })).toBe('info');
  });

  it('normalizes and splits', () => {
    expect(normalize('  a \t b\n')).toBe('a b');
    expect(items(' 1, 2;3  4 ')).toEqual(['1', '2', '3', '4']);
  });

  it('solutionText: the Markdown of a solution, never its commands', () => {
    const base = { id: 't', title: 'T', points: 1 } as Parameters<typeof solutionText>[0];
    expect(solutionText({ ...base, solution: 'Read **the** file' })).toBe('Read **the** file');
    expect(solutionText({ ...base, solution: { text: 'Scan it', vm: 'attacker', run: 'nc -z target 80' } })).toBe('Scan it');
    expect(solutionText({ ...base, solution: { vm: 'attacker', run: 'cat /flag' } })).toBeUndefined();
    expect(solutionText(base)).toBeUndefined();
  });
});
