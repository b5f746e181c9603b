import Box from '@mui/material/Box';
import ReactMarkdown from 'react-markdown';

/**
 * Renders Markdown from templates. Raw HTML is never rendered (react-markdown escapes it unless a
 * raw-HTML plugin is added, and none is), and links are limited to http(s) and mailto.
 */
export function Markdown({ text }: { text: string }) {
  return (
    <Box sx={{ '& p': { my: 1 }, '& pre': { p: 1, bgcolor: 'action.hover', overflowX: 'auto' }, '& code': { fontFamily: 'monospace' } }}>
      <ReactMarkdown skipHtml urlTransform={(url) => (/^(https?:|mailto:|#|\/)/i.test(url) ? url : '')}>
        {text}
      </ReactMarkdown>
    </Box>
  );
}
