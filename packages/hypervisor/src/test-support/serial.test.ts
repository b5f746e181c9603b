import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SerialReader } from './serial.js';

/** A scripted terminal: answers each typed line with `respond(line)` (which includes any echo). */
function terminal(respond: (line: string) => string): Duplex {
  const stream: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) stream.push(respond(line));
      callback();
    },
  });
  return stream;
}

/** Runs `line` as a tiny shell would: `cmd; echo MARK-$?-END` prints cmd's output then the marker. */
const shell = (output: (line: string) => string) => (line: string) => {
  const marker = /echo (M\w+)-\$\?-END$/.exec(line)![1];
  return `${output(line)}${marker}-0-END\r\n# `;
};
const rev = (line: string) => (line.startsWith('echo hello | rev') ? 'olleh\r\n' : '');

describe('SerialReader.run', () => {
  it("returns only the command's output, not its echo nor earlier text", async () => {
    const reader = new SerialReader(terminal((line) => `${line}\r\n${shell(rev)(line)}`));
    expect(await reader.run('echo hello | rev')).toBe('\r\nolleh\r\n');
    // A second command does not see the first one's output.
    expect(await reader.run('true')).toBe('\r\n');
  });

  it('finds the echo even where the terminal wrapped the line', async () => {
    // Busybox wraps at 80 columns: the echo of a long line has line breaks inside it.
    const wrap = (line: string) => `${line.slice(0, 60)} \r\n${line.slice(60, 62)}\r${line.slice(62)}\r\n`;
    const reader = new SerialReader(terminal((line) => `${wrap(line)}${shell(() => 'out\r\n')(line)}`));
    expect(await reader.run(`echo ${'x'.repeat(50)}`)).toBe('\r\nout\r\n');
  });

  it('throws when the console did not echo the command, instead of returning the whole text', async () => {
    // No echo: the words of the command would otherwise be matched against the console's past.
    const reader = new SerialReader(terminal(shell(() => '')));
    await expect(reader.run('echo secret-word')).rejects.toThrow(/did not echo/);
  });
});
