import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import LinearProgress from '@mui/material/LinearProgress';
import MenuItem from '@mui/material/MenuItem';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { IMAGE_FORMATS, type Image } from '@ctp/contracts';
import { useState } from 'react';
import { api, useDeleteImageMutation, useImagesQuery } from '../../api/api.js';
import { useAppDispatch, useAppSelector } from '../../api/store.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

const size = (bytes: number | null) =>
  bytes === null ? '—' : bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.ceil(bytes / 2 ** 20)} MiB`;

/**
 * Uploads a file as the raw request body, reporting upload progress (XMLHttpRequest: fetch has
 * no upload progress); the server streams it to disk and checks it.
 */
function uploadImage(token: string, query: URLSearchParams, file: File, onProgress: (percent: number) => void): Promise<Image> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `/api/v1/images?${query}`);
    request.setRequestHeader('authorization', `Bearer ${token}`);
    request.setRequestHeader('content-type', 'application/octet-stream');
    request.upload.onprogress = (e) => e.lengthComputable && onProgress(Math.round((100 * e.loaded) / e.total));
    request.onload = () => {
      const body = JSON.parse(request.responseText || '{}') as Image & { error?: { message: string } };
      if (request.status === 201 || request.status === 202) resolve(body);
      else reject(new Error(body.error?.message ?? `upload failed (${request.status})`));
    };
    request.onerror = () => reject(new Error('the upload was interrupted'));
    request.send(file);
  });
}

function UploadForm() {
  const token = useAppSelector((s) => s.session.accessToken);
  const dispatch = useAppDispatch();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [format, setFormat] = useState('qcow2');
  const [sha256, setSha256] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async () => {
    if (!file || !token) return;
    setMessage(null);
    setProgress(0);
    const query = new URLSearchParams({ name, format, ...(sha256 ? { sha256: sha256.trim() } : {}) });
    try {
      const image = await uploadImage(token, query, file, setProgress);
      setMessage({
        ok: true,
        text: image.status === 'converting' ? `${image.name} uploaded: converting to qcow2…` : `${image.name} is ready`,
      });
      dispatch(api.util.invalidateTags(['Image']));
    } catch (error) {
      setMessage({ ok: false, text: (error as Error).message });
    } finally {
      setProgress(null);
    }
  };
  return (
    <Paper component="form" aria-label="upload an image" sx={{ p: 2 }} onSubmit={(e) => (e.preventDefault(), void submit())}>
      <Stack direction="row" spacing={2} sx={{ flexWrap: 'wrap', alignItems: 'center' }} useFlexGap>
        <Button variant="outlined" component="label">
          {file ? file.name : 'Choose file'}
          <input hidden type="file" aria-label="image file" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </Button>
        <TextField size="small" label="Name" value={name} onChange={(e) => setName(e.target.value)} required />
        <TextField select size="small" label="Format" value={format} onChange={(e) => setFormat(e.target.value)} sx={{ minWidth: 120 }}>
          {IMAGE_FORMATS.map((f) => (
            <MenuItem key={f} value={f}>
              {f}
            </MenuItem>
          ))}
        </TextField>
        <TextField
          size="small"
          label="Expected sha256 (optional)"
          value={sha256}
          onChange={(e) => setSha256(e.target.value)}
          sx={{ minWidth: 320 }}
        />
        <Button type="submit" variant="contained" disabled={!file || !name || progress !== null}>
          Upload
        </Button>
      </Stack>
      {progress !== null && <LinearProgress variant="determinate" value={progress} aria-label="upload progress" sx={{ mt: 2 }} />}
      {message && (
        <Alert severity={message.ok ? 'success' : 'error'} sx={{ mt: 2 }}>
          {message.text}
        </Alert>
      )}
    </Paper>
  );
}

/** The image library for staff: upload (with progress and checksum), list with format, size, OS and users, delete. */
export function ImagesPage() {
  const { data, error } = useImagesQuery(undefined, { pollingInterval: 5000 });
  const [remove, removing] = useDeleteImageMutation();
  const isAdmin = useAppSelector((s) => s.session.user?.role === 'admin');
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        Images
      </Typography>
      <UploadForm />
      <ErrorAlert error={error ?? removing.error} />
      {data && (
        <Typography>
          Library: {size(data.usage.usedBytes)} of {size(data.usage.quotaBytes)} used
        </Typography>
      )}
      <Table size="small" aria-label="images">
        <TableHead>
          <TableRow>
            <TableCell>Name</TableCell>
            <TableCell>Format</TableCell>
            <TableCell>Status</TableCell>
            <TableCell>Size</TableCell>
            <TableCell>OS</TableCell>
            <TableCell>Configured by</TableCell>
            <TableCell>Used by</TableCell>
            <TableCell />
          </TableRow>
        </TableHead>
        <TableBody>
          {data?.items.map((image) => (
            <TableRow key={image.id} aria-label={`image ${image.name}`}>
              <TableCell>{image.name}</TableCell>
              <TableCell>{image.sourceFormat}</TableCell>
              <TableCell>
                {image.status === 'converting' ? `converting ${image.progress}%` : image.status}
                {image.error ? ` — ${image.error}` : ''}
              </TableCell>
              <TableCell>{size(image.builtin ? null : image.sizeBytes)}</TableCell>
              <TableCell>{image.osFamily}</TableCell>
              <TableCell>{image.configMethod}</TableCell>
              <TableCell>
                {[...image.usedBy.templates.map((t) => t.title), ...(image.usedBy.labs ? [`${image.usedBy.labs} lab(s)`] : [])].join(
                  ', ',
                ) || '—'}
              </TableCell>
              <TableCell>
                {isAdmin && !image.builtin && (
                  <Button size="small" color="error" disabled={removing.isLoading} onClick={() => void remove(image.id)}>
                    Delete
                  </Button>
                )}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Stack>
  );
}
