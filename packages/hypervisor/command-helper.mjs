// The command helper: a small Node process that starts external commands on behalf of the
// platform's process (see src/command-runner.ts). Starting a command forks the process that
// starts it, and forking a process that holds hundreds of MiB (the embedded database) blocks its
// event loop for tens of milliseconds per command; forking this small process costs little.
// One request per message ({ id, file, args, cwd, env, input, timeoutMs }), one reply per request.
import { spawn } from 'node:child_process';

// The platform's process is gone: nothing will read the replies.
process.on('disconnect', () => process.exit(0));

process.on('message', (request) => {
  const { id, file, args, cwd, env, input, timeoutMs } = request;
  let settled = false;
  const reply = (message) => {
    if (settled) return;
    settled = true;
    if (process.connected) process.send({ id, ...message });
  };
  let child;
  try {
    child = spawn(file, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    reply({ error: error.message });
    return;
  }
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  child.on('error', (error) => {
    clearTimeout(timer);
    reply({ error: error.message });
  });
  child.on('close', (code, signal) => {
    clearTimeout(timer);
    reply({ code, signal, stdout, stderr, timedOut });
  });
  child.stdin.on('error', () => {});
  child.stdin.end(input ?? '');
});
