import { closeSync, createReadStream, createWriteStream, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HypervisorError } from '../errors.js';

export interface TarMember {
  name: string;
  offset: number;
  size: number;
}

const refuse = (message: string) => new HypervisorError('invalid', message);

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function octal(block: Buffer, start: number, length: number): number {
  const text = field(block, start, length).trim();
  if (!/^[0-7]+$/.test(text)) throw refuse('the archive has a corrupt header');
  return parseInt(text, 8);
}

/**
 * Lists a tar archive (an OVA, or a kernel + initrd pair) by reading its headers ourselves:
 * only regular files with a plain name are accepted. Links, devices, directories, absolute
 * paths and `..` are refused, so extraction can never write or read outside its folder.
 */
export function listTar(file: string, maxMembers = 64): TarMember[] {
  const fd = openSync(file, 'r');
  try {
    const members: TarMember[] = [];
    const block = Buffer.alloc(512);
    let offset = 0;
    for (;;) {
      const read = readSync(fd, block, 0, 512, offset);
      if (read < 512) throw refuse('the archive is truncated');
      if (block.every((byte) => byte === 0)) break;
      if (!block.subarray(257, 262).toString('latin1').startsWith('ustar')) throw refuse('not a tar archive (ustar)');
      const type = String.fromCharCode(block[156] || 48);
      const prefix = field(block, 345, 155);
      const name = prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100);
      const size = octal(block, 124, 12);
      const data = offset + 512;
      offset = data + Math.ceil(size / 512) * 512;
      // pax global/extended headers only annotate; a path override in them is refused below.
      if (type === 'g' || type === 'x') {
        const pax = Buffer.alloc(Math.min(size, 65536));
        readSync(fd, pax, 0, pax.length, data);
        if (/\d+ (path|linkpath)=/.test(pax.toString('utf8'))) throw refuse('the archive renames its members (pax path): refused');
        continue;
      }
      if (type !== '0') throw refuse(`the archive member "${name}" is not a regular file (links and devices are refused)`);
      const base = name.replace(/^\.\//, '');
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(base) || base.includes('..'))
        throw refuse(`the archive member "${name}" is not a plain file name`);
      if (members.some((m) => m.name === base)) throw refuse(`the archive holds "${base}" twice`);
      members.push({ name: base, offset: data, size });
      if (members.length > maxMembers) throw refuse('the archive holds too many files');
    }
    return members;
  } finally {
    closeSync(fd);
  }
}

/** Copies one listed member into `dir` as a new file (never overwriting, never following a link). */
export async function extractMember(file: string, member: TarMember, dir: string): Promise<string> {
  const target = path.resolve(dir, member.name);
  if (path.dirname(target) !== path.resolve(dir)) throw refuse(`"${member.name}" would leave the target folder`);
  if (member.size === 0) {
    closeSync(openSync(target, 'wx', 0o600));
    return target;
  }
  await pipeline(
    createReadStream(file, { start: member.offset, end: member.offset + member.size - 1 }),
    createWriteStream(target, { flags: 'wx', mode: 0o600 }),
  );
  return target;
}

/** Reads a small member (an OVF descriptor) as text. */
export function readMember(file: string, member: TarMember, maxBytes = 4 * 1024 * 1024): string {
  if (member.size > maxBytes) throw refuse(`"${member.name}" is too large`);
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(member.size);
    readSync(fd, buffer, 0, member.size, member.offset);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}
