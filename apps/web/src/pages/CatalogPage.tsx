import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import CardActions from '@mui/material/CardActions';
import CardContent from '@mui/material/CardContent';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useNavigate } from 'react-router';
import { useStartLabMutation, useTemplatesQuery } from '../api/api.js';
import { ErrorAlert } from '../components/ErrorAlert.js';

/** Published lab templates, each with "Start". */
export function CatalogPage() {
  const { data, error } = useTemplatesQuery({ status: 'published' });
  const [start, started] = useStartLabMutation();
  const navigate = useNavigate();
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        Catalog
      </Typography>
      <ErrorAlert error={error ?? started.error} />
      {data && data.items.length === 0 && <Typography>No published labs yet. Ask your instructor to publish one.</Typography>}
      {data?.items.map((template) => (
        <Card key={template.id} variant="outlined">
          <CardContent>
            <Typography variant="h6" component="h2">
              {template.title}
            </Typography>
            <Typography variant="body2" sx={{ whiteSpace: 'pre-wrap' }} color="text.secondary">
              {template.description.replace(/^#.*\n+/, '')}
            </Typography>
          </CardContent>
          <CardActions>
            <Button
              variant="contained"
              disabled={started.isLoading}
              aria-label={`start ${template.title}`}
              onClick={async () => {
                const result = await start(template.id);
                if ('data' in result && result.data) void navigate(`/labs/${result.data.id}`);
              }}
            >
              Start
            </Button>
          </CardActions>
        </Card>
      ))}
    </Stack>
  );
}
