/**
 * How many VMs may be restoring from saved states at once on each host: from its QEMU's start
 * until its lab's identity and files are in. A freshly restored TCG guest translates again every
 * kernel and agent path it runs; twenty at once on two cores thrash each other's caches, and each
 * costs more CPU than alone. Measured on the demo lab (10 labs at once, 2 cores): with 4 at a time
 * the median lab was ready in 2.9–3.5 s instead of 4.5–5.4 s, the slowest in 3.8–4.5 s instead
 * of 4.6–5.5 (docs/benchmarks.md). Cold boots are not limited: their start step returns once
 * QEMU runs. Warm-pool refills wait behind students' labs.
 */
export class RestoreSlots {
  private readonly used = new Map<string, number>();
  private readonly waiting = new Map<string, { first: (() => void)[]; last: (() => void)[] }>();

  /** `limitOf`: the slots of a host (0 or less: no limit), asked at each request (the caller caches). */
  constructor(private readonly limitOf: (hostId: string | null) => Promise<number> | number) {}

  /**
   * Waits for a slot on the host; resolves with the function that gives it back. Requests wait in
   * order, `background` ones (pool refills) behind every other.
   */
  async acquire(hostId: string | null, background = false): Promise<() => void> {
    const key = hostId ?? '';
    const asked = await this.limitOf(hostId);
    const limit = asked > 0 ? asked : Number.POSITIVE_INFINITY;
    const used = this.used.get(key) ?? 0;
    if (used < limit) this.used.set(key, used + 1);
    else await new Promise<void>((resolve) => this.queue(key)[background ? 'last' : 'first'].push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next in line, or is freed.
      const queue = this.queue(key);
      const next = queue.first.shift() ?? queue.last.shift();
      if (next) next();
      else this.used.set(key, (this.used.get(key) ?? 1) - 1);
    };
  }

  /** Slots in use on the host. */
  inUse(hostId: string | null): number {
    return this.used.get(hostId ?? '') ?? 0;
  }

  private queue(key: string) {
    let queue = this.waiting.get(key);
    if (!queue) this.waiting.set(key, (queue = { first: [], last: [] }));
    return queue;
  }
}

/** A host's restore slots: `perCore` × its cores (as registered), cached for a minute; `perCore` 0: no limit. */
export function restoreSlotsPerCore(
  perCore: number,
  coresOf: (hostId: string | null) => Promise<number | undefined>,
): (hostId: string | null) => Promise<number> {
  const cache = new Map<string, { slots: number; until: number }>();
  return async (hostId) => {
    if (perCore <= 0) return 0;
    const key = hostId ?? '';
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.slots;
    const slots = perCore * Math.max(1, (await coresOf(hostId).catch(() => undefined)) ?? 1);
    cache.set(key, { slots, until: Date.now() + 60_000 });
    return slots;
  };
}
