import { parse } from 'csv-parse/sync';

/** One student line of a roster file, as read (line numbers are the file's own, 1-based). */
export interface RosterEntry {
  line: number;
  username: string;
  email: string;
  name: string | null;
  password: string | null;
}

export interface RosterProblem {
  line: number;
  field?: string;
  message: string;
}

const REQUIRED = ['username', 'email'] as const;
const OPTIONAL = ['name', 'password'] as const;
const KNOWN: readonly string[] = [...REQUIRED, ...OPTIONAL];
const USERNAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{1,63}$/;
// The same rule as the API's `email` format: something@domain.tld, no spaces.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MAX_ROSTER_LINES = 2000;

/**
 * Reads a roster CSV (header `username,email` and optionally `name,password`, any order; quoted
 * fields allowed). Every problem is reported with its line; entries are returned only when there
 * is none, so that a bad file imports nothing.
 */
export function parseRoster(text: string): { entries: RosterEntry[]; problems: RosterProblem[] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text.replace(/^\uFEFF/, ''), {
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      comment: '#',
      comment_no_infix: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    const line = (error as { lines?: number }).lines ?? 1;
    return { entries: [], problems: [{ line, message: `not valid CSV: ${(error as Error).message.replace(/^Invalid [^:]*: /, '')}` }] };
  }
  const [header, ...rows] = records;
  if (!header) return { entries: [], problems: [{ line: 1, message: 'the file is empty; expected a header line "username,email"' }] };
  const columns = header.record.map((h) => h.toLowerCase());
  const problems: RosterProblem[] = [];
  for (const name of REQUIRED)
    if (!columns.includes(name))
      problems.push({ line: header.info.lines, message: `the header has no "${name}" column (expected username,email[,name,password])` });
  for (const name of columns)
    if (!KNOWN.includes(name)) problems.push({ line: header.info.lines, message: `unknown column "${name}" (known: ${KNOWN.join(', ')})` });
  if (new Set(columns).size !== columns.length) problems.push({ line: header.info.lines, message: 'a column appears twice in the header' });
  if (problems.length) return { entries: [], problems };
  if (rows.length > MAX_ROSTER_LINES)
    return { entries: [], problems: [{ line: 1, message: `at most ${MAX_ROSTER_LINES} students per file` }] };

  const entries: RosterEntry[] = [];
  const seenUsernames = new Map<string, number>();
  const seenEmails = new Map<string, number>();
  for (const { record, info } of rows) {
    const line = info.lines;
    const cell = (name: string) => record[columns.indexOf(name)] ?? '';
    if (record.length > columns.length) {
      problems.push({ line, message: `${record.length} fields, but the header has ${columns.length}` });
      continue;
    }
    const entry: RosterEntry = {
      line,
      username: cell('username'),
      email: cell('email'),
      name: cell('name') || null,
      password: cell('password') || null,
    };
    const before = problems.length;
    if (!USERNAME.test(entry.username))
      problems.push({
        line,
        field: 'username',
        message: entry.username ? `"${entry.username}" is not a valid username (letters, digits, . _ -; 2–64)` : 'username is missing',
      });
    if (!EMAIL.test(entry.email) || entry.email.length > 254)
      problems.push({ line, field: 'email', message: entry.email ? `"${entry.email}" is not a valid email address` : 'email is missing' });
    if (entry.name !== null && entry.name.length > 200)
      problems.push({ line, field: 'name', message: 'name is longer than 200 characters' });
    if (entry.password !== null && (entry.password.length < 8 || entry.password.length > 256))
      problems.push({ line, field: 'password', message: 'password must be 8 to 256 characters' });
    const username = entry.username.toLowerCase();
    const email = entry.email.toLowerCase();
    if (entry.username && seenUsernames.has(username))
      problems.push({ line, field: 'username', message: `"${entry.username}" already appears on line ${seenUsernames.get(username)}` });
    if (entry.email && seenEmails.has(email))
      problems.push({ line, field: 'email', message: `"${entry.email}" already appears on line ${seenEmails.get(email)}` });
    seenUsernames.set(username, seenUsernames.get(username) ?? line);
    seenEmails.set(email, seenEmails.get(email) ?? line);
    if (problems.length === before) entries.push(entry);
  }
  if (!rows.length) problems.push({ line: header.info.lines, message: 'no student lines after the header' });
  return problems.length ? { entries: [], problems } : { entries, problems: [] };
}
