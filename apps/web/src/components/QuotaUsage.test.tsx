import { describe, expect, it } from 'vitest';
import type { MyQuota } from '@ctp/contracts';
import { quotaSummary } from './QuotaUsage.js';

const quota = (over: Partial<MyQuota>): MyQuota => ({
  maxLabs: { limit: 3, source: 'default' },
  maxVcpus: { limit: null, source: 'none' },
  maxMemoryMiB: { limit: null, source: 'none' },
  used: { labs: 2, vcpus: 4, memoryMiB: 512 },
  classes: [],
  ...over,
});

describe('quotaSummary', () => {
  it('says the use against each limit that exists', () => {
    expect(quotaSummary(quota({}))).toBe('2 of 3 labs');
    expect(
      quotaSummary(
        quota({
          maxLabs: { limit: 1, source: 'role' },
          maxVcpus: { limit: 8, source: 'role' },
          maxMemoryMiB: { limit: 1024, source: 'user' },
        }),
      ),
    ).toBe('2 of 1 lab · 4 of 8 vCPUs · 512 of 1024 MiB of memory');
  });

  it('says there is no limit when none applies', () => {
    expect(quotaSummary(quota({ maxLabs: { limit: null, source: 'none' }, used: { labs: 1, vcpus: 2, memoryMiB: 256 } }))).toBe(
      '1 lab, no limit',
    );
  });
});
