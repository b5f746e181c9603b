import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { matchesAnswer } from './answer-matching.js';
import { importCtfdChallenge, taskIdFor } from './ctfd-import.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/ctfd/${name}.challenge.yml`, import.meta.url), 'utf8');
const fields = (result: ReturnType<typeof importCtfdChallenge>) => result.unsupported.map((u) => u.field);

describe('CTFd challenge.yml import', () => {
  it('carries over name, description, value, flags, hints, requirements and attempts of a full challenge', () => {
    const result = importCtfdChallenge(fixture('full'));
    expect(result.task).toMatchObject({
      id: 'robots-everywhere',
      title: 'Robots Everywhere',
      type: 'answer',
      points: 150,
      maxAttempts: 5,
      requires: ['warm-up'],
      answers: [
        { equals: 'flag{robots-are-friends}' },
        { equals: 'flag{Robots-Static}', caseInsensitive: true },
        { regex: 'flag{robots-[0-9]+}', caseInsensitive: true },
      ],
      hints: [
        { id: 'hint-1', text: 'Crawlers read one file first.', cost: 0 },
        { id: 'hint-2', text: 'The file is robots.txt', cost: 40 },
      ],
    });
    expect(result.task.body).toBe('The site hides something from crawlers.\nFind the **flag**.\n\nConnection: `http://10.0.0.20/`');
    expect(fields(result).sort()).toEqual(
      ['attribution', 'author', 'category', 'extra.extra_property', 'files', 'requirements[0]', 'state', 'tags', 'topics'].sort(),
    );
    // The imported answers behave as CTFd's flags do.
    const [plain, insensitive, regex] = result.task.answers!;
    expect(matchesAnswer(plain!, 'flag{robots-are-friends}', {})).toBe(true);
    expect(matchesAnswer(plain!, 'FLAG{robots-are-friends}', {})).toBe(false);
    expect(matchesAnswer(insensitive!, 'FLAG{ROBOTS-STATIC}', {})).toBe(true);
    expect(matchesAnswer(regex!, 'FLAG{ROBOTS-42}', {})).toBe(true);
    expect(matchesAnswer(regex!, 'flag{robots-x}', {})).toBe(false);
  });

  it('reads the flow-mapping style of the spec example; lists unknown flag data and challenge ids', () => {
    const result = importCtfdChallenge(fixture('spec'));
    expect(result.task).toMatchObject({
      id: 'port-knocking-101',
      points: 100,
      answers: [{ equals: 'flag{kn0ck}' }, { equals: 'flag{wat}' }],
      hints: [
        { id: 'hint-1', text: 'This hint costs points', cost: 10 },
        { id: 'hint-2', text: 'This hint is free', cost: 0 },
      ],
      requires: ['warm-up'],
    });
    // attempts: 0 means unlimited in CTFd.
    expect(result.task.maxAttempts).toBeUndefined();
    expect(fields(result)).toEqual(
      expect.arrayContaining(['flags[1].data', 'requirements[1]', 'author', 'category', 'tags', 'state', 'version']),
    );
    // image: null and host: null say nothing: not listed.
    expect(fields(result)).not.toContain('image');
  });

  it('imports a minimal challenge as an information task', () => {
    const result = importCtfdChallenge(fixture('minimal'));
    expect(result.task).toEqual({ id: 'minimal', title: 'Minimal', type: 'info', body: 'Nothing else.', points: 50 });
    expect(fields(result).sort()).toEqual(['author', 'category', 'state']);
  });

  it('takes the initial value of a dynamic challenge and lists decay, the solution file and anonymize', () => {
    const result = importCtfdChallenge(fixture('dynamic'));
    expect(result.task).toMatchObject({ points: 500, answers: [{ regex: 'CTF\\{[a-f0-9]{8}\\}' }], requires: ['warm-up'] });
    expect(fields(result)).toEqual(expect.arrayContaining(['extra.decay', 'extra.minimum', 'requirements.anonymize', 'solution']));
  });

  it('refuses what is not a challenge with a clear reason', () => {
    expect(() => importCtfdChallenge('name: [unclosed')).toThrow(/not valid YAML/);
    expect(() => importCtfdChallenge('- a list')).toThrow(/mapping/);
    expect(() => importCtfdChallenge('description: no name')).toThrow(/no name/);
  });

  it('makes task ids from names', () => {
    expect(taskIdFor('42 Is The Answer!')).toBe('is-the-answer');
    expect(taskIdFor('Ünïcode name')).toBe('unicode-name');
    expect(taskIdFor('!!!')).toBe('challenge');
    expect(taskIdFor('a'.repeat(50))).toHaveLength(32);
  });
});
