import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The SPA is served by the API server from dist/; in development Vite proxies the API to it.
export default defineConfig({
  plugins: [react()],
  resolve: { conditions: ['source'] },
  build: { outDir: 'dist', sourcemap: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { '/api': { target: 'http://localhost:8080', ws: true } } },
});
