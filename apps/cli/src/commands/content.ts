import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { AppError, validateTemplate, type TemplateProblem } from '@ctp/server/cli';
import { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../errors.js';
import { emit, jsonMode } from '../output.js';

interface ImageSummary {
  id: string;
  name: string;
  sourceFormat: string;
  status: string;
  error?: string | null;
  sizeBytes: number;
  osFamily: string;
}

interface TemplateSummary {
  id: string;
  title: string;
  status: string;
  version: number;
}

/** Problems of one template file, checked offline with the server's own validation (images not checked). */
export function lintFile(file: string): TemplateProblem[] {
  try {
    validateTemplate(readFileSync(file, 'utf8'), () => true);
    return [];
  } catch (error) {
    if (error instanceof AppError) return (error.details ?? [{ field: 'config', message: error.message }]) as TemplateProblem[];
    throw error;
  }
}

function slug(title: string): string {
  return (
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'template'
  );
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** `ctp templates lint|push|pull|export` and `ctp images upload`. */
export function registerContent(program: Command): void {
  const templates = program.command('templates').description('lab templates kept as YAML files');
  templates
    .command('lint')
    .description('check template files offline (schema and the server rules); problems at their lines, exit 3 if any')
    .argument('<files...>')
    .action((files: string[]) => {
      const results = files.map((file) => ({ file, problems: lintFile(file) }));
      const bad = results.filter((r) => r.problems.length);
      emit({ ok: bad.length === 0, files: results }, () =>
        results
          .map((r) =>
            r.problems.length ? r.problems.map((p) => `${r.file}:${p.line ?? 1}: ${p.field}: ${p.message}`).join('\n') : `${r.file}: ok`,
          )
          .join('\n'),
      );
      if (bad.length) process.exitCode = EXIT.invalid;
    });
  templates
    .command('push')
    .description('create a template from a YAML file, or store a new version of template --id')
    .argument('<file>')
    .option('--id <id>', 'the template to update')
    .option('--publish', 'publish it too')
    .action(async (file: string, options: { id?: string; publish?: boolean }) => {
      const problems = lintFile(file);
      if (problems.length) throw new CliError(EXIT.invalid, `${file} has problems (run ctp templates lint)`, problems);
      const api = ApiClient.fromStore();
      const body = readFileSync(file, 'utf8');
      const init = { body, headers: { 'content-type': 'application/yaml' } };
      let template = options.id
        ? await api.json<TemplateSummary>('PUT', `/api/v1/templates/${options.id}`, init)
        : await api.json<TemplateSummary>('POST', '/api/v1/templates', init);
      if (options.publish) template = await api.json<TemplateSummary>('POST', `/api/v1/templates/${template.id}/publish`);
      emit(
        template,
        () =>
          `${options.id ? 'updated' : 'created'} template ${template.id} "${template.title}" version ${template.version} (${template.status})`,
      );
    });
  templates
    .command('pull')
    .description("write a template's current version as YAML (to stdout, or -o FILE)")
    .argument('<id>')
    .option('-o, --output <file>')
    .action(async (id: string, options: { output?: string }) => {
      const yaml = await (await ApiClient.fromStore().request('GET', `/api/v1/templates/${id}/export`)).text();
      if (options.output) writeFileSync(options.output, yaml);
      if (options.output || jsonMode)
        emit({ id, file: options.output ?? null, yaml: options.output ? undefined : yaml }, () => `wrote ${options.output}`);
      else process.stdout.write(yaml);
    });
  templates
    .command('export')
    .description('write every template you may see as DIR/<title>.yaml')
    .argument('<dir>')
    .action(async (dir: string) => {
      const api = ApiClient.fromStore();
      mkdirSync(dir, { recursive: true });
      const written: { id: string; file: string }[] = [];
      for (let offset = 0; ;) {
        const page = await api.json<{ items: TemplateSummary[]; total: number }>('GET', `/api/v1/templates?limit=100&offset=${offset}`);
        for (const t of page.items) {
          const file = path.join(dir, `${slug(t.title)}-${t.id.slice(0, 8)}.yaml`);
          writeFileSync(file, await (await api.request('GET', `/api/v1/templates/${t.id}/export`)).text());
          written.push({ id: t.id, file });
        }
        offset += page.items.length;
        if (page.items.length === 0 || offset >= page.total) break;
      }
      emit({ templates: written }, () => written.map((w) => `${w.file}`).join('\n') || 'no templates');
    });

  const images = program.command('images').description('the image library (staff)');
  images
    .command('list')
    .description('list the image library: name, format, status, size, OS')
    .action(async () => {
      const list = await ApiClient.fromStore().json<{ items: ImageSummary[]; total: number }>('GET', '/api/v1/images?limit=200');
      emit(list, () =>
        list.items.length
          ? list.items.map((i) => `${i.name}\t${i.sourceFormat}\t${i.status}\t${i.sizeBytes} bytes\t${i.osFamily}`).join('\n')
          : 'no images',
      );
    });
  images
    .command('upload')
    .description('upload a base image file (POST /api/v1/images, checksum verified by the server), with a progress bar')
    .argument('<file>')
    .requiredOption('--name <name>', 'the image name templates use')
    .requiredOption('--format <format>', 'qcow2, raw, vmdk, vdi, vhdx, ova, iso, kernel')
    .option('--wait', 'wait for a conversion (raw, vmdk, OVA, …) to finish; exit 1 if it fails')
    .action(async (file: string, options: { name: string; format: string; wait?: boolean }) => {
      const api = ApiClient.fromStore();
      const size = statSync(file).size;
      const sha256 = await sha256Of(file);
      const bar = jsonMode || !process.stderr.isTTY ? undefined : new SingleBar({ stream: process.stderr }, Presets.shades_classic);
      bar?.start(size, 0);
      let sent = 0;
      const stream = createReadStream(file);
      stream.on('data', (chunk) => bar?.update((sent += chunk.length)));
      const query = new URLSearchParams({ name: options.name, format: options.format, sha256 });
      try {
        let image = await api.json<ImageSummary>('POST', `/api/v1/images?${query}`, {
          body: Readable.toWeb(stream) as ReadableStream,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        });
        bar?.stop();
        while (options.wait && image.status === 'converting') {
          await new Promise((resolve) => setTimeout(resolve, 500));
          image = await api.json<ImageSummary>('GET', `/api/v1/images/${image.id}`);
        }
        if (image.status === 'failed')
          throw new CliError(EXIT.error, `the conversion of ${file} failed: ${image.error ?? 'unknown error'}`);
        emit(image, () => `uploaded ${file} as image "${options.name}" (${size} bytes, sha256 ${sha256}; ${image.status})`);
      } finally {
        bar?.stop();
      }
    });
}
