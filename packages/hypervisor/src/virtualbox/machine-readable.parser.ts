/**
 * Parses VBoxManage's `--machinereadable` output: one `key=value` per line, where keys may be
 * quoted (`"SATA-0-0"=...`) and values are numbers or double-quoted strings (`\"` and `\\`
 * escaped; a quoted value may span lines, e.g. a snapshot description). Text after a closing
 * quote (as in `VideoMode="1024,768,32"@0,0 1`) is ignored.
 */
export function parseMachineReadable(output: string): Map<string, string> {
  const values = new Map<string, string>();
  let i = 0;
  const text = output.replace(/\r\n/g, '\n');
  const readQuoted = (): string => {
    let out = '';
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++;
      out += text[i++];
    }
    i++; // closing quote
    return out;
  };
  while (i < text.length) {
    if (text[i] === '\n') {
      i++;
      continue;
    }
    let key: string;
    if (text[i] === '"') key = readQuoted();
    else {
      const start = i;
      while (i < text.length && text[i] !== '=' && text[i] !== '\n') i++;
      key = text.slice(start, i);
    }
    if (text[i] !== '=') {
      // Not a key=value line (a message such as "This machine does not have any snapshots").
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    i++;
    let value: string;
    if (text[i] === '"') value = readQuoted();
    else {
      const start = i;
      while (i < text.length && text[i] !== '\n') i++;
      value = text.slice(start, i);
    }
    while (i < text.length && text[i] !== '\n') i++;
    values.set(key, value);
  }
  return values;
}
