import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { validateTemplate, type TemplateProblem } from './template-validation.js';

const images = new Set(['demo-attacker', 'demo-target']);
const imageExists = (name: string) => images.has(name);

interface Draft {
  version: number;
  title?: string;
  extra?: unknown;
  networks: { name: string; cidr: string }[];
  vms: { name: string; image: string; nics: { network: string; address?: string }[] }[];
  tasks: { id: string; title: string }[];
}

/** A valid template, changed by `change`. */
function template(change: (t: Draft) => void = () => {}): Draft {
  const t: Draft = {
    version: 1,
    title: 'Network basics',
    networks: [
      { name: 'lan', cidr: '10.0.0.0/24' },
      { name: 'dmz', cidr: '172.16.0.0/16' },
    ],
    vms: [
      { name: 'attacker', image: 'demo-attacker', nics: [{ network: 'lan', address: '10.0.0.10' }] },
      {
        name: 'target',
        image: 'demo-target',
        nics: [
          { network: 'lan', address: '10.0.0.20' },
          { network: 'dmz', address: '172.16.255.254' },
        ],
      },
    ],
    tasks: [{ id: 'recon', title: 'Find the target' }],
  };
  change(t);
  return t;
}

/** The problems `validateTemplate` reports for `input` (fails the test if it accepts it). */
function problems(input: unknown): { message: string; details: TemplateProblem[] } {
  try {
    validateTemplate(input, imageExists);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_template' });
    return { message: (error as AppError).message, details: (error as AppError).details as TemplateProblem[] };
  }
  throw new Error('the template was accepted');
}

describe('template validation', () => {
  it('accepts a valid template as an object, as JSON and as YAML, unchanged', () => {
    expect(validateTemplate(template(), imageExists)).toEqual(template());
    expect(validateTemplate(JSON.stringify(template()), imageExists)).toEqual(template());
    const yaml = `version: 1
title: Network basics
networks:
  - { name: lan, cidr: 10.0.0.0/24 }
vms:
  - name: box
    image: demo-target
    nics: [{ network: lan, address: 10.0.0.5 }]
`;
    expect(validateTemplate(yaml, imageExists)).toEqual({
      version: 1,
      title: 'Network basics',
      networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
      vms: [{ name: 'box', image: 'demo-target', nics: [{ network: 'lan', address: '10.0.0.5' }] }],
    });
  });

  it('refuses text that is not YAML, with the line of the error', () => {
    const { message, details } = problems('version: 1\ntitle: [unclosed\nnetworks: []\n');
    expect(message).toBe('The template is not valid YAML or JSON');
    expect(details).toHaveLength(1);
    expect(details[0]).toMatchObject({ field: 'config' });
    expect(details[0]!.message).not.toContain('\n');
    expect(details[0]!.line).toBeGreaterThanOrEqual(2);
  });

  it('names each schema problem by its path, once', () => {
    const { details, message } = problems(
      template((t) => {
        delete t.title;
        t.extra = true;
        t.vms[1]!.nics[0]!.network = 'Not A Name';
      }),
    );
    const fields = details.map((d) => d.field);
    expect(fields).toContain('title');
    expect(fields).toContain('extra');
    expect(fields).toContain('vms[1].nics[0].network');
    expect(new Set(details.map((d) => `${d.field} ${d.message}`)).size).toBe(details.length);
    expect(message).toMatch(new RegExp(`^The template has ${details.length} problems: `));
    expect(message).toContain('vms[1].nics[0].network: ');
    expect(problems('42').details).toEqual([expect.objectContaining({ field: 'config' })]);
  });

  it('joins several missing or unknown properties into one field, and writes indexes of two digits', () => {
    const base = template();
    expect(problems({ ...base, networks: [{}] }).details).toEqual([
      { field: 'networks[0].name,cidr', message: 'must have required properties name, cidr' },
    ]);
    expect(problems({ ...base, a: 1, b: 2 }).details.map((d) => d.field)).toContain('a,b');
    expect(problems([]).details).toEqual([{ field: 'config', message: 'must be object' }]);
    const twelve = template((t) => {
      t.vms = Array.from({ length: 12 }, (_, i) => ({ name: `v${i}`, image: 'demo-target', nics: [] }));
      t.vms[11]!.nics = [{ network: 'Bad' }];
    });
    expect(problems(twelve).details.map((d) => d.field)).toEqual(['vms[11].nics[0].network']);
    // And its YAML line is found through the same path.
    const yaml = ['version: 1', 'title: T', 'networks: [{ name: lan, cidr: 10.0.0.0/24 }]', 'vms:']
      .concat(Array.from({ length: 12 }, (_, i) => `  - { name: v${i}, image: ${i === 11 ? 'nope' : 'demo-target'}, nics: [] }`))
      .join('\n');
    expect(problems(yaml).details).toEqual([{ field: 'vms[11].image', message: 'unknown image "nope"', line: 16 }]);
  });

  it('refuses YAML that expands too many aliases (a "billion laughs" bomb)', () => {
    // Harmless under the YAML library's default limit (100), refused under ours (50).
    const bomb = 'a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nd: &d [*c, *c, *c]\n';
    expect(problems(bomb).details).toEqual([{ field: 'config', message: 'Excessive alias count indicates a resource exhaustion attack' }]);
  });

  it('refuses duplicate names, unknown images and networks, and duplicate tasks', () => {
    const { details, message } = problems(
      template((t) => {
        t.networks.push({ name: 'lan', cidr: '10.9.0.0/24' });
        t.vms.push({ name: 'attacker', image: 'nope', nics: [{ network: 'wan' }] });
        t.tasks.push({ id: 'recon', title: 'Again' });
      }),
    );
    expect(details).toEqual([
      { field: 'networks[2].name', message: 'duplicate network "lan"' },
      { field: 'vms[2].name', message: 'duplicate VM "attacker"' },
      { field: 'vms[2].image', message: 'unknown image "nope"' },
      { field: 'vms[2].nics[0].network', message: 'unknown network "wan"' },
      { field: 'tasks[1].id', message: 'duplicate task "recon"' },
    ]);
    expect(message).toBe(
      'The template has 5 problems: networks[2].name: duplicate network "lan"; vms[2].name: duplicate VM "attacker"; ' +
        'vms[2].image: unknown image "nope"; vms[2].nics[0].network: unknown network "wan"; tasks[1].id: duplicate task "recon"',
    );
  });

  it('says "1 problem" for one', () => {
    expect(problems(template((t) => (t.vms[0]!.image = 'nope'))).message).toBe(
      'The template has 1 problem: vms[0].image: unknown image "nope"',
    );
  });

  it('refuses an address used twice on one network', () => {
    const twice = template((t) => (t.vms[1]!.nics[0]!.address = '10.0.0.10'));
    expect(problems(twice).details).toEqual([{ field: 'vms[1].nics[0].address', message: '10.0.0.10 is already used by attacker' }]);
  });

  it('checks no address on a network whose CIDR is bad, and takes NICs without an address', () => {
    const t = template((c) => {
      c.networks[0]!.cidr = '10.0.0.0/31';
      delete c.vms[0]!.nics[0]!.address;
    });
    expect(problems(t).details.map((d) => d.field)).toEqual(['networks[0].cidr']);
  });

  it('points each problem of a YAML template at its line', () => {
    const yaml = `version: 1
title: Lines
networks:
  - name: lan
    cidr: 10.0.0.0/24
vms:
  - name: box
    image: demo-target
    nics:
      - network: lan
        address: 10.0.1.5
  - name: other
    image: missing
    nics: []
`;
    expect(problems(yaml).details).toEqual([
      { field: 'vms[0].nics[0].address', message: '10.0.1.5 is outside network "lan"', line: 11 },
      { field: 'vms[1].image', message: 'unknown image "missing"', line: 13 },
    ]);
    // A field that does not exist points at its nearest parent that does.
    const missing = `version: 1\ntitle: Lines\nnetworks:\n  - name: lan\n    cidr: 10.0.0.0/24\nvms:\n  - name: box\n    image: demo-target\n`;
    expect(problems(missing).details).toEqual([expect.objectContaining({ field: 'vms[0].nics', line: 7 })]);
  });
});
