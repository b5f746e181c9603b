import { LabTemplateConfig } from '@ctp/contracts';
import { Compile } from 'typebox/compile';
import { LineCounter, parse as parseYaml, parseDocument, YAMLParseError } from 'yaml';
import { AppError } from '../errors.js';

export interface TemplateProblem {
  /** Where the problem is, e.g. `vms[1].nics[0].network`. */
  field: string;
  message: string;
  /** 1-based line in the YAML source, when the template came as YAML. */
  line?: number;
}

const checker = Compile(LabTemplateConfig);

/** `/vms/1/nics/0/network` → `vms[1].nics[0].network`. */
function toPath(pointer: string, extra?: string): string {
  const parts = pointer.split('/').filter(Boolean);
  if (extra) parts.push(extra);
  return parts.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function parseCidr(cidr: string): { base: number; bits: number } | undefined {
  const [ip, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!ip || !Number.isInteger(bits) || bits < 8 || bits > 30) return undefined;
  if (ip.split('.').some((o) => Number(o) > 255)) return undefined;
  return { base: ipToInt(ip), bits };
}

function inCidr(ip: string, cidr: { base: number; bits: number }): boolean {
  const mask = cidr.bits === 0 ? 0 : (~0 << (32 - cidr.bits)) >>> 0;
  return (ipToInt(ip) & mask) >>> 0 === (cidr.base & mask) >>> 0;
}

/** The rules a schema cannot state: names unique, NICs on declared networks, addresses inside them. */
function semanticProblems(config: LabTemplateConfig, imageExists: (name: string) => boolean): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const networks = new Map<string, { base: number; bits: number }>();
  config.networks.forEach((network, i) => {
    if (networks.has(network.name)) problems.push({ field: `networks[${i}].name`, message: `duplicate network "${network.name}"` });
    const cidr = parseCidr(network.cidr);
    if (!cidr)
      problems.push({ field: `networks[${i}].cidr`, message: `"${network.cidr}" is not an IPv4 network with a prefix of /8 to /30` });
    else networks.set(network.name, cidr);
  });
  const vmNames = new Set<string>();
  const addresses = new Map<string, string>();
  config.vms.forEach((vm, i) => {
    if (vmNames.has(vm.name)) problems.push({ field: `vms[${i}].name`, message: `duplicate VM "${vm.name}"` });
    vmNames.add(vm.name);
    if (!imageExists(vm.image)) problems.push({ field: `vms[${i}].image`, message: `unknown image "${vm.image}"` });
    vm.nics.forEach((nic, j) => {
      const field = `vms[${i}].nics[${j}]`;
      const network = networks.get(nic.network);
      if (!config.networks.some((n) => n.name === nic.network)) {
        problems.push({ field: `${field}.network`, message: `unknown network "${nic.network}"` });
      } else if (nic.address && network) {
        if (!inCidr(nic.address, network))
          problems.push({ field: `${field}.address`, message: `${nic.address} is outside network "${nic.network}"` });
        const key = `${nic.network}/${nic.address}`;
        if (addresses.has(key))
          problems.push({ field: `${field}.address`, message: `${nic.address} is already used by ${addresses.get(key)}` });
        addresses.set(key, vm.name);
      }
    });
  });
  (config.tasks ?? []).forEach((task, i) => {
    if ((config.tasks ?? []).findIndex((t) => t.id === task.id) !== i)
      problems.push({ field: `tasks[${i}].id`, message: `duplicate task "${task.id}"` });
  });
  return problems;
}

/** Finds the YAML line of a field path (or of its nearest existing parent), so editors can point at it. */
function lineOf(source: string, field: string): number | undefined {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter });
  const path: (string | number)[] = field
    .split(/\.|\[|\]/)
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  for (let depth = path.length; depth > 0; depth--) {
    const node = document.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

/**
 * Parses (YAML or JSON text, or an object) and validates a template, reporting every problem with
 * its path; throws a 400 listing them all, or returns the config.
 */
export function validateTemplate(input: unknown, imageExists: (name: string) => boolean): LabTemplateConfig {
  let source: string | undefined;
  let config = input;
  if (typeof input === 'string') {
    source = input;
    try {
      config = parseYaml(input, { maxAliasCount: 50 });
    } catch (error) {
      const line = error instanceof YAMLParseError ? error.linePos?.[0]?.line : undefined;
      throw new AppError(400, 'invalid_template', 'The template is not valid YAML or JSON', [
        { field: 'config', message: (error as Error).message.split('\n')[0]!, ...(line ? { line } : {}) } as TemplateProblem,
      ]);
    }
  }
  let problems: TemplateProblem[];
  if (!checker.Check(config)) {
    problems = [...checker.Errors(config)].map((e) => {
      const params = e.params as Record<string, unknown>;
      const extra =
        (params.requiredProperties as string[] | undefined)?.join(',') ?? (params.additionalProperties as string[] | undefined)?.join(',');
      return { field: toPath(e.instancePath, extra) || 'config', message: e.message };
    });
    problems = problems.filter((p, i) => problems.findIndex((o) => o.field === p.field && o.message === p.message) === i);
  } else {
    problems = semanticProblems(config as LabTemplateConfig, imageExists);
  }
  if (problems.length) {
    if (source) problems = problems.map((p) => ({ ...p, line: lineOf(source, p.field) }));
    throw new AppError(
      400,
      'invalid_template',
      `The template has ${problems.length} problem${problems.length > 1 ? 's' : ''}: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      problems,
    );
  }
  return config as LabTemplateConfig;
}
