import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useEffect, useMemo, useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import {
  useCreateTemplateMutation,
  useExportTemplateQuery,
  useImagesQuery,
  useImportCtfdMutation,
  useUpdateTemplateMutation,
} from '../../api/api.js';
import { errorMessage } from '../../api/base-query.js';
import { LabTopology } from '../../components/LabTopology.js';
import { Markdown } from '../../components/Markdown.js';
import { VerificationPanel } from '../../components/VerificationPanel.js';
import { appendTask, previewFromYaml, tasksFromYaml } from './template-preview.js';
import TextField from '@mui/material/TextField';
import Paper from '@mui/material/Paper';

const STARTER = `version: 1
title: My lab
description: What the students do here.
lifetimeMinutes: 120
networks:
  - name: lan
    cidr: 10.0.0.0/24
vms:
  - name: attacker
    image: demo-attacker
    nics:
      - network: lan
        address: 10.0.0.10
  - name: target
    image: demo-target
    nics:
      - network: lan
        address: 10.0.0.20
`;

type Problem = { field?: string; message: string; line?: number };

/** The YAML editor: the server's validation errors shown at their lines, and a live topology preview. */
export function TemplateEditorPage() {
  const { templateId } = useParams();
  const isNew = !templateId || templateId === 'new';
  const exported = useExportTemplateQuery(templateId ?? '', { skip: isNew });
  const [source, setSource] = useState(isNew ? STARTER : '');
  // The text is loaded once per template: a later refetch must not overwrite what is being typed.
  const [loadedFor, setLoadedFor] = useState<string | null>(null);
  useEffect(() => {
    if (!isNew && exported.data !== undefined && loadedFor !== templateId) {
      setSource(exported.data);
      setLoadedFor(templateId!);
    }
  }, [isNew, exported.data, loadedFor, templateId]);
  const [create, created] = useCreateTemplateMutation();
  const [update, updated] = useUpdateTemplateMutation();
  const [saved, setSaved] = useState(false);
  const navigate = useNavigate();
  const error = created.error ?? updated.error;
  const problems: Problem[] = (error as { data?: { error?: { details?: Problem[] } } } | undefined)?.data?.error?.details ?? [];
  const byLine = new Map<number, Problem[]>();
  for (const p of problems) if (p.line) byLine.set(p.line, [...(byLine.get(p.line) ?? []), p]);
  const preview = useMemo(() => previewFromYaml(source), [source]);
  const taskPreview = useMemo(() => tasksFromYaml(source), [source]);
  const [importCtfd, importing] = useImportCtfdMutation();
  const [challenge, setChallenge] = useState('');
  const [unsupported, setUnsupported] = useState<{ field: string; reason: string }[] | null>(null);
  const [importError, setImportError] = useState<string | null>(null);
  const addFromCtfd = async () => {
    setImportError(null);
    const result = await importCtfd(challenge);
    if ('error' in result) return setImportError(errorMessage(result.error));
    try {
      setSource(appendTask(source, result.data.task));
      setUnsupported(result.data.unsupported);
      setChallenge('');
    } catch (e) {
      setImportError(`The template's tasks could not be extended: ${(e as Error).message}`);
    }
  };
  const lines = source.split('\n');
  // The library's images: offered for `image:` lines, and unknown names flagged at their line as typed.
  const images = useImagesQuery({ limit: 200 });
  const known = (images.data?.items ?? []).filter((i) => i.status === 'ready').map((i) => i.name);
  const unknownImages = images.data
    ? lines.flatMap((line, i) => {
        const name = /^\s*-?\s*image:\s*["']?([^"'\s#]+)/.exec(line)?.[1];
        return name && !known.includes(name) ? [{ line: i + 1, name }] : [];
      })
    : [];
  for (const u of unknownImages) if (!byLine.has(u.line)) byLine.set(u.line, [{ line: u.line, message: `unknown image "${u.name}"` }]);

  const save = async () => {
    setSaved(false);
    const result = isNew ? await create(source) : await update({ id: templateId!, yaml: source });
    if ('data' in result && result.data) {
      setSaved(true);
      if (isNew) {
        setLoadedFor(result.data.id);
        void navigate(`/staff/templates/${result.data.id}`);
      }
    }
  };

  return (
    <Stack spacing={2}>
      <Stack direction="row" spacing={2} sx={{ alignItems: 'center' }}>
        <Typography variant="h4" component="h1" sx={{ flexGrow: 1 }}>
          {isNew ? 'New template' : 'Edit template'}
        </Typography>
        <Button variant="contained" onClick={save}>
          {isNew ? 'Create' : 'Save new version'}
        </Button>
      </Stack>
      {error !== undefined && (
        <Alert severity="error" role="alert">
          {errorMessage(error)}
        </Alert>
      )}
      {saved && <Alert severity="success">Saved. Labs already started keep their version.</Alert>}
      {!isNew && templateId && <VerificationPanel templateId={templateId} />}
      <Stack direction={{ xs: 'column', md: 'row' }} spacing={2}>
        <Box sx={{ flex: 1, display: 'flex', fontFamily: 'monospace', fontSize: 13, border: 1, borderColor: 'divider' }}>
          <Box
            aria-hidden
            sx={{
              bgcolor: 'grey.100',
              color: 'text.secondary',
              textAlign: 'right',
              px: 1,
              userSelect: 'none',
              lineHeight: '20px',
              pt: '8px',
            }}
          >
            {lines.map((_, i) => (
              <div key={i} style={{ color: byLine.has(i + 1) ? '#d32f2f' : undefined, fontWeight: byLine.has(i + 1) ? 700 : undefined }}>
                {i + 1}
              </div>
            ))}
          </Box>
          <textarea
            aria-label="template YAML"
            value={source}
            spellCheck={false}
            onChange={(e) => setSource(e.target.value)}
            // As tall as its text, so that the line numbers beside it stay aligned.
            rows={lines.length + 1}
            wrap="off"
            style={{
              flex: 1,
              border: 0,
              outline: 'none',
              resize: 'none',
              overflowY: 'hidden',
              fontFamily: 'inherit',
              fontSize: 'inherit',
              lineHeight: '20px',
              padding: 8,
            }}
          />
        </Box>
        <Stack sx={{ flex: 1 }} spacing={1}>
          {problems.length > 0 && (
            <Box component="ul" aria-label="problems" sx={{ m: 0, pl: 2, color: 'error.main' }}>
              {problems.map((p, i) => (
                <li key={i}>
                  {p.line ? `Line ${p.line}: ` : ''}
                  {p.field ? `${p.field}: ` : ''}
                  {p.message}
                </li>
              ))}
            </Box>
          )}
          {unknownImages.length > 0 && (
            <Box component="ul" aria-label="unknown images" sx={{ m: 0, pl: 2, color: 'error.main' }}>
              {unknownImages.map((u) => (
                <li key={u.line}>
                  Line {u.line}: unknown image "{u.name}"
                </li>
              ))}
            </Box>
          )}
          <Typography variant="body2" aria-label="known images">
            Images: {known.join(', ') || '—'}
          </Typography>
          <Typography variant="subtitle2">Preview</Typography>
          {preview ? (
            <LabTopology lab={preview} />
          ) : (
            <Typography color="text.secondary">The preview appears once the YAML parses.</Typography>
          )}
          {taskPreview.length > 0 && (
            <Stack spacing={1} aria-label="task preview">
              <Typography variant="subtitle2">Tasks as students see them</Typography>
              {taskPreview.map((t, i) => (
                <Paper key={`${t.id}-${i}`} variant="outlined" sx={{ p: 1 }}>
                  <Typography variant="body2" sx={{ fontWeight: 'bold' }}>
                    {t.title} · {t.type} · {t.points} points{t.hints ? ` · ${t.hints} hint${t.hints > 1 ? 's' : ''}` : ''}
                    {t.requires.length ? ` · after ${t.requires.join(', ')}` : ''}
                  </Typography>
                  <Markdown text={t.body} />
                </Paper>
              ))}
            </Stack>
          )}
          <Typography variant="subtitle2">Add a task from a CTFd challenge.yml</Typography>
          <TextField
            multiline
            minRows={3}
            size="small"
            label="challenge.yml"
            value={challenge}
            onChange={(e) => setChallenge(e.target.value)}
            slotProps={{ htmlInput: { style: { fontFamily: 'monospace', fontSize: 13 } } }}
          />
          <Button
            variant="outlined"
            sx={{ alignSelf: 'flex-start' }}
            disabled={!challenge.trim() || importing.isLoading}
            onClick={addFromCtfd}
          >
            Add as a task
          </Button>
          {importError && (
            <Alert severity="error" role="alert">
              {importError}
            </Alert>
          )}
          {unsupported && (
            <Alert severity={unsupported.length ? 'warning' : 'success'} aria-label="import result">
              {unsupported.length ? 'Added. Not carried over:' : 'Added with every field.'}
              <Box component="ul" sx={{ m: 0, pl: 2 }}>
                {unsupported.map((u) => (
                  <li key={u.field}>
                    {u.field}: {u.reason}
                  </li>
                ))}
              </Box>
            </Alert>
          )}
        </Stack>
      </Stack>
    </Stack>
  );
}
