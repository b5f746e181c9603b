import { describe, expect, it } from 'vitest';
import { appendTask, previewFromYaml, tasksFromYaml } from './template-preview.js';

describe('template preview', () => {
  it('draws networks and VMs from YAML as it is typed', () => {
    const preview = previewFromYaml(
      'networks:\n  - name: lan\n    cidr: 10.0.0.0/24\nvms:\n  - name: a\n    nics:\n      - network: lan\n        address: 10.0.0.5\n',
    );
    expect(preview?.networks).toEqual([{ name: 'lan', cidr: '10.0.0.0/24' }]);
    expect(preview?.vms[0]).toMatchObject({ name: 'a', addresses: [{ network: 'lan', address: '10.0.0.5' }] });
  });
  it('shows nothing while the YAML does not parse or lacks networks and VMs', () => {
    expect(previewFromYaml('vms: [unclosed')).toBeNull();
    expect(previewFromYaml('title: x')).toBeNull();
  });
});

describe('task preview and CTFd append', () => {
  const yaml = `version: 1\ntitle: T\nnetworks: []\nvms: []\ntasks:\n  - id: a\n    title: First\n    points: 5\n    answers: [{ equals: x }]\n    hints: [{ id: h, text: t, cost: 1 }]\n  - id: b\n    title: Second\n    description: Old\n    requires: [a]\n`;
  it('lists tasks with their inferred type, points and hints', () => {
    expect(tasksFromYaml(yaml)).toEqual([
      { id: 'a', title: 'First', type: 'answer', points: 5, hints: 1, body: '', requires: [] },
      { id: 'b', title: 'Second', type: 'info', points: 0, hints: 0, body: 'Old', requires: ['a'] },
    ]);
    expect(tasksFromYaml('tasks: [unclosed')).toEqual([]);
  });
  it('appends a task, keeping comments, or creates the list', () => {
    const out = appendTask(`# keep me\n${yaml}`, { id: 'c', title: 'Third' });
    expect(out).toContain('# keep me');
    expect(tasksFromYaml(out).map((t) => t.id)).toEqual(['a', 'b', 'c']);
    expect(tasksFromYaml(appendTask('version: 1\ntitle: T\n', { id: 'z', title: 'Z' })).map((t) => t.id)).toEqual(['z']);
  });
});
