import { stringify } from 'csv-stringify/sync';
import type { LabTask } from '@ctp/contracts';

export interface GradeStudent {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
}

export interface GradeScore {
  tasks: (Pick<LabTask, 'id' | 'awarded' | 'state'> & { solvedAt: Date | null })[];
  score: number;
  lab: { createdAt: Date; deletedAt: Date | null; expiresAt: Date | null };
}

/** A spreadsheet would run a cell starting with these as a formula: such text is quoted with a leading apostrophe. */
const FORMULA = /^[=+\-@\t\r]/;
const cell = (text: string | null | undefined) => (text ? (FORMULA.test(text) ? `'${text}` : text) : '');

/**
 * The grade sheet of an assignment: one line per enrolled student (those without a lab get
 * empty times and 0 points). `finished` is when the last task was solved, once all are;
 * time spent runs from the lab's start to then, or to the lab's end (or now, while it lives).
 */
export function gradeSheet(
  tasks: { id: string; points: number }[],
  students: GradeStudent[],
  scores: ReadonlyMap<string, GradeScore>,
  now = new Date(),
): string {
  const header = [
    'username',
    'email',
    'name',
    ...tasks.map((t) => `${t.id} (${t.points})`),
    'total',
    'max',
    'started',
    'finished',
    'time_spent_minutes',
  ];
  const max = tasks.reduce((n, t) => n + t.points, 0);
  const rows = students.map((student) => {
    const score = scores.get(student.id);
    const points = tasks.map((t) => String(score?.tasks.find((s) => s.id === t.id)?.awarded ?? 0));
    if (!score) return [student.username, cell(student.email), cell(student.name), ...points, '0', String(max), '', '', ''];
    const solvedTimes = score.tasks.map((t) => t.solvedAt);
    const allSolved = tasks.length > 0 && solvedTimes.every((t) => t !== null);
    const finished = allSolved ? new Date(Math.max(...solvedTimes.map((t) => t!.getTime()))) : null;
    const end = finished ?? score.lab.deletedAt ?? new Date(Math.min(now.getTime(), score.lab.expiresAt?.getTime() ?? now.getTime()));
    const minutes = Math.max(0, Math.round((end.getTime() - score.lab.createdAt.getTime()) / 60_000));
    return [
      student.username,
      cell(student.email),
      cell(student.name),
      ...points,
      String(score.score),
      String(max),
      score.lab.createdAt.toISOString(),
      finished?.toISOString() ?? '',
      String(minutes),
    ];
  });
  return stringify([header, ...rows], { record_delimiter: '\r\n' });
}
