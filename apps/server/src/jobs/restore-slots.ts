/**
 * How many VMs may be restoring from saved states at once on each host: from its QEMU's start
 * until its lab's identity and files are in. A freshly restored TCG guest translates again every
 * kernel and agent path it runs; twenty at once on two cores thrash each other's caches, and each
 * costs more CPU than alone. Measured on the demo lab (10 labs at once, 2 cores): with 4 at a time
 * the median lab was ready in 3.1–3.8 s instead of 4.5–5.4 s, and the QEMUs used ~10 % less CPU
 * (docs/benchmarks.md). Cold boots are not limited: their start step returns once QEMU runs.
 */
export class RestoreSlots {
  private readonly used = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private readonly perHost: number;

  /** `perHost`: slots per host; 0 (or less): no limit. */
  constructor(perHost: number) {
    this.perHost = perHost > 0 ? perHost : Number.POSITIVE_INFINITY;
  }

  /** Waits for a slot on the host (in request order); resolves with the function that gives it back. */
  async acquire(hostId: string | null): Promise<() => void> {
    const key = hostId ?? '';
    const used = this.used.get(key) ?? 0;
    if (used < this.perHost) this.used.set(key, used + 1);
    else await new Promise<void>((resolve) => this.queue(key).push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next in line, or is freed.
      const next = this.queue(key).shift();
      if (next) next();
      else this.used.set(key, (this.used.get(key) ?? 1) - 1);
    };
  }

  /** Slots in use on the host. */
  inUse(hostId: string | null): number {
    return this.used.get(hostId ?? '') ?? 0;
  }

  private queue(key: string): (() => void)[] {
    let queue = this.waiting.get(key);
    if (!queue) this.waiting.set(key, (queue = []));
    return queue;
  }
}
