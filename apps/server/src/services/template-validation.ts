import { LabTemplateConfig } from '@ctp/contracts';
import { Compile } from 'typebox/compile';
import { LineCounter, parse as parseYaml, parseDocument, YAMLParseError } from 'yaml';
import { AppError } from '../errors.js';
import { findHostileValue } from './hostile-values.js';
import { formatCidr, hostAddressProblem, overlaps, parseIpv4, parseLabCidr, reservedBlock, type Cidr } from './cidr.js';
import { contentProblems } from './template-content-validation.js';

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

/**
 * The rules a schema cannot state: names unique; networks real, free and not overlapping; NICs
 * on declared networks, at most one per network per VM, on host addresses inside them.
 */
function semanticProblems(
  config: LabTemplateConfig,
  imageExists: (name: string) => boolean,
  hostNetworks: readonly Cidr[],
): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const networks = new Map<string, Cidr>();
  const declared = new Set<string>();
  config.networks.forEach((network, i) => {
    const field = `networks[${i}].cidr`;
    if (declared.has(network.name)) problems.push({ field: `networks[${i}].name`, message: `duplicate network "${network.name}"` });
    declared.add(network.name);
    const parsed = parseLabCidr(network.cidr);
    if ('error' in parsed) return problems.push({ field, message: parsed.error });
    const reserved = reservedBlock(parsed.cidr);
    if (reserved) return problems.push({ field, message: `${network.cidr} overlaps ${reserved}, which a lab network may not use` });
    const host = hostNetworks.find((h) => overlaps(h, parsed.cidr));
    if (host) return problems.push({ field, message: `${network.cidr} overlaps the host's own network ${formatCidr(host)}` });
    const clash = [...networks].find(([, other]) => overlaps(other, parsed.cidr));
    if (clash) problems.push({ field, message: `${network.cidr} overlaps network "${clash[0]}" (${formatCidr(clash[1])})` });
    if (!networks.has(network.name)) networks.set(network.name, parsed.cidr);
  });
  const vmNames = new Set<string>();
  const addresses = new Map<string, string>();
  config.vms.forEach((vm, i) => {
    if (vmNames.has(vm.name)) problems.push({ field: `vms[${i}].name`, message: `duplicate VM "${vm.name}"` });
    vmNames.add(vm.name);
    if (!imageExists(vm.image)) problems.push({ field: `vms[${i}].image`, message: `unknown image "${vm.image}"` });
    const attached = new Set<string>();
    vm.nics.forEach((nic, j) => {
      const field = `vms[${i}].nics[${j}]`;
      const network = networks.get(nic.network);
      if (!declared.has(nic.network)) return problems.push({ field: `${field}.network`, message: `unknown network "${nic.network}"` });
      if (attached.has(nic.network))
        problems.push({ field: `${field}.network`, message: `VM "${vm.name}" already has a NIC on network "${nic.network}"` });
      attached.add(nic.network);
      if (!nic.address || !network) return;
      const address = parseIpv4(nic.address);
      const problem = address === undefined ? 'is not an IPv4 address in' : hostAddressProblem(network, address);
      if (problem) return problems.push({ field: `${field}.address`, message: `${nic.address} ${problem} network "${nic.network}"` });
      const key = `${nic.network}/${nic.address}`;
      if (addresses.has(key))
        problems.push({ field: `${field}.address`, message: `${nic.address} is already used by ${addresses.get(key)}` });
      addresses.set(key, vm.name);
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
export function validateTemplate(
  input: unknown,
  imageExists: (name: string) => boolean,
  hostNetworks: readonly Cidr[] = [],
): LabTemplateConfig {
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
  // YAML escapes (`"\0"`) make NUL bytes the raw text did not have; the schema says nothing of them.
  const hostile = findHostileValue(config, '');
  if (hostile) {
    problems = [{ field: hostile.field || 'config', message: hostile.message }];
  } else if (!checker.Check(config)) {
    problems = [...checker.Errors(config)].map((e) => {
      const params = e.params as Record<string, unknown>;
      const extra =
        (params.requiredProperties as string[] | undefined)?.join(',') ?? (params.additionalProperties as string[] | undefined)?.join(',');
      return { field: toPath(e.instancePath, extra) || 'config', message: e.message };
    });
    problems = problems.filter((p, i) => problems.findIndex((o) => o.field === p.field && o.message === p.message) === i);
  } else {
    problems = [
      ...semanticProblems(config as LabTemplateConfig, imageExists, hostNetworks),
      ...contentProblems(config as LabTemplateConfig),
    ];
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
