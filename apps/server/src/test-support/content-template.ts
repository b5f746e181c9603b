import type { LabTemplateConfig } from '@ctp/contracts';

/** Strings of the content template that a student must never receive (answers, commands, solutions, settings). */
export const NEVER_FOR_STUDENTS = [
  'vault',
  'demo-vault-image-marker',
  'settings-flag-value-7f3a',
  'plain-answer-9c1e',
  'regex-answer-[0-9]+',
  'grep -q checkword-5b2d /root/proof.txt',
  'the-solution-text-41aa',
  'the-locked-solution-e2c8',
  'solution-run-marker-6a0b',
  '10.0.0.99',
  'hidden hint text d1f0',
];

/**
 * A template holding everything that must stay with staff: a hidden VM with settings, marked
 * secrets, injected files, tasks with answers, choices, a check, hints and solutions.
 */
export const CONTENT_TEMPLATE: LabTemplateConfig = {
  version: 1,
  title: 'Content lab',
  description: 'A lab to **practise**.',
  networks: [
    { name: 'lan', cidr: '10.0.0.0/24' },
    { name: 'backstage', cidr: '10.9.0.0/24' },
  ],
  vms: [
    { name: 'attacker', image: 'demo-attacker', nics: [{ network: 'lan', address: '10.0.0.10' }] },
    {
      name: 'vault',
      image: 'demo-target',
      studentVisible: false,
      studentControl: false,
      nics: [
        { network: 'lan', address: '10.0.0.99' },
        { network: 'backstage', address: '10.9.0.5' },
      ],
      settings: { flag: 'settings-flag-value-7f3a', marker: 'demo-vault-image-marker' },
    },
  ],
  secrets: [
    { name: 'flag', type: 'flag' },
    { name: 'pass', type: 'password', length: 20 },
  ],
  inject: [
    { vm: 'vault', path: '/srv/flag.txt', content: 'flag={{flag}}\n', mode: '0600', owner: 'root' },
    { vm: 'attacker', path: '/root/notes.txt', content: 'password: {{pass}}\n' },
  ],
  allowSolutions: true,
  tasks: [
    { id: 'intro', title: 'Read me', body: 'Welcome.' },
    {
      id: 'flag',
      title: 'Find the flag',
      body: 'Somewhere on the network.',
      points: 10,
      answers: [{ secret: 'flag' }],
      hints: [
        { id: 'one', text: 'hidden hint text d1f0', cost: 3 },
        { id: 'two', text: 'Look harder.', cost: 20 },
      ],
      solution: 'the-solution-text-41aa',
    },
    {
      id: 'word',
      title: 'Type the word',
      points: 5,
      maxAttempts: 2,
      answers: [{ equals: 'plain-answer-9c1e' }, { regex: 'regex-answer-[0-9]+', caseInsensitive: true }],
    },
    {
      id: 'pick',
      title: 'Pick the right ones',
      points: 4,
      options: [
        { id: 'a', text: 'Alpha', correct: true },
        { id: 'b', text: 'Beta' },
        { id: 'c', text: 'Gamma', correct: true },
      ],
    },
    {
      id: 'proof',
      title: 'Leave proof',
      points: 8,
      requires: ['flag'],
      check: { vm: 'attacker', run: 'grep -q checkword-5b2d /root/proof.txt', expect: { exitCode: 0 } },
      // Students may reveal the text, never the reference commands that verification runs.
      solution: { text: 'the-locked-solution-e2c8', vm: 'attacker', run: 'echo solution-run-marker-6a0b > /root/proof.txt' },
    },
  ],
};
