import { describe, expect, it } from 'vitest';
import { parseRoster } from './class-roster.js';

describe('parseRoster', () => {
  it('reads columns in any order, quoted fields, a BOM, CRLF, comments and blank lines', () => {
    const text = '\uFEFFemail,username,password,name\r\n# a comment\r\n\r\n"a@x.org",alice,,"Smith, Alice"\r\nb@x.org,bob,long enough,\r\n';
    expect(parseRoster(text)).toEqual({
      entries: [
        { line: 4, username: 'alice', email: 'a@x.org', name: 'Smith, Alice', password: null },
        { line: 5, username: 'bob', email: 'b@x.org', name: null, password: 'long enough' },
      ],
      problems: [],
    });
  });

  it('reports every bad line with its number and returns no entries then', () => {
    const text = ['username,email,password', 'ok1,ok1@x.org,', 'x,bad,short', 'ok1,OK1@x.org,', 'a,b,c,d'].join('\n');
    const { entries, problems } = parseRoster(text);
    expect(entries).toEqual([]);
    expect(problems).toEqual([
      { line: 3, field: 'username', message: '"x" is not a valid username (letters, digits, . _ -; 2–64)' },
      { line: 3, field: 'email', message: '"bad" is not a valid email address' },
      { line: 3, field: 'password', message: 'password must be 8 to 256 characters' },
      { line: 4, field: 'username', message: '"ok1" already appears on line 2' },
      { line: 4, field: 'email', message: '"OK1@x.org" already appears on line 2' },
      { line: 5, message: '4 fields, but the header has 3' },
    ]);
  });

  it('refuses a header without the required columns or with unknown ones', () => {
    expect(parseRoster('username\nx').problems.map((p) => p.message)).toEqual([
      'the header has no "email" column (expected username,email[,name,password])',
    ]);
    expect(parseRoster('username,email,role\n').problems.map((p) => p.message)).toEqual([
      'unknown column "role" (known: username, email, name, password)',
    ]);
    expect(parseRoster('').problems[0]?.message).toMatch(/empty/);
  });
});
