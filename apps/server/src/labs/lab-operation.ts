// What every layer says about a lab's hypervisor side: the operations a lab's host performs (run as
// jobs on that host's queue) and the names its things have there. Services, jobs and tests import it
// from here, so services never import the job runner.

/** `handover`: a warm pool lab just given to a student gets its secrets and content. */
export type LabOperation = 'provision' | 'start' | 'stop' | 'reset' | 'delete' | 'handover';

/** Hypervisor names of a lab's things: unique per lab, safe as names, never shown to users. */
export function labPrefix(labId: string): string {
  return `l${labId.replaceAll('-', '').slice(0, 16)}`;
}
