import { describe, expect, it } from 'vitest';
import { previewFromYaml } from './template-preview.js';

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
