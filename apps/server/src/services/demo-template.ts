import type { LabTemplateConfig } from '@ctp/contracts';

/** Where the demo target serves files and reads its port-4444 banner from (written after boot over the guest channel). */
export const DEMO_TARGET_WEB_ROOT = '/var/www';
export const DEMO_TARGET_BANNER_FILE = '/etc/ctp/banner';
/** The TCP ports the demo target listens on: telnet, HTTP and the banner service. */
export const DEMO_TARGET_PORTS = ['23', '80', '4444'];

/** The scan a student would run (every port up to 1024, and 4444): one open port per line. */
export const DEMO_SCAN_SOLUTION = 'for p in $(seq 1 1024) 4444; do nc -w 1 10.0.0.20 $p </dev/null >/dev/null 2>&1 && echo $p; done';

/** The demo lab installed at first start: an exercise against `target` from `attacker`. */
export const DEMO_TEMPLATE: LabTemplateConfig = {
  version: 1,
  title: 'Network basics',
  description:
    '# Network basics\n\nTwo machines on a private network. From `attacker` (10.0.0.10), explore `target` (10.0.0.20):\n' +
    'find its open ports, read what its web server serves, and grab the banner of its service on port 4444.\n\n' +
    'Every lab has its own flags: a flag from someone else’s lab earns nothing.',
  lifetimeMinutes: 120,
  networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
  vms: [
    { name: 'attacker', image: 'demo-attacker', cpus: 1, memoryMiB: 128, nics: [{ network: 'lan', address: '10.0.0.10' }] },
    {
      name: 'target',
      image: 'demo-target',
      cpus: 1,
      memoryMiB: 128,
      nics: [{ network: 'lan', address: '10.0.0.20' }],
      studentControl: true,
    },
  ],
  secrets: [
    { name: 'web_flag', type: 'flag' },
    { name: 'banner_flag', type: 'flag', format: 'CTP{banner-<hex:24>}' },
  ],
  inject: [
    { vm: 'target', path: `${DEMO_TARGET_WEB_ROOT}/flag.txt`, content: '{{web_flag}}\n', mode: '0644' },
    { vm: 'target', path: DEMO_TARGET_BANNER_FILE, content: 'SecretService 1.0 ready. Flag: {{banner_flag}}\n', mode: '0644' },
  ],
  tasks: [
    {
      id: 'scan',
      title: 'Which TCP ports are open on target?',
      type: 'answer',
      body: 'List the open TCP ports of `target` (10.0.0.20), separated by commas or spaces, in any order.',
      points: 10,
      answers: [{ set: DEMO_TARGET_PORTS }],
      maxAttempts: 5,
      // Reference solutions (staff only): pre-class verification runs them in attacker and submits their output.
      solution: { vm: 'attacker', run: DEMO_SCAN_SOLUTION, timeout: 240 },
      hints: [
        {
          id: 'probe',
          text: 'busybox `nc` can probe one port at a time: `for p in $(seq 1 1024) 4444; do nc -w 1 10.0.0.20 $p </dev/null >/dev/null 2>&1 && echo $p; done`',
          cost: 4,
        },
      ],
    },
    {
      id: 'web-flag',
      title: "Read the flag on target's web server",
      type: 'answer',
      body: 'The web server of `target` serves a flag at `/flag.txt`. Fetch it from `attacker` and submit it.',
      points: 10,
      answers: [{ secret: 'web_flag' }],
      solution: { vm: 'attacker', run: 'wget -qO- http://10.0.0.20/flag.txt' },
      hints: [{ id: 'wget', text: 'On attacker: `wget -qO- http://10.0.0.20/flag.txt`', cost: 3 }],
    },
    {
      id: 'banner',
      title: 'Read the banner on port 4444',
      type: 'answer',
      body: 'A service on port 4444 of `target` greets every visitor with a banner carrying a flag. Submit the flag.',
      points: 10,
      answers: [{ secret: 'banner_flag' }],
      solution: { vm: 'attacker', run: "nc -w 3 10.0.0.20 4444 </dev/null | grep -o 'CTP{[^}]*}'" },
      hints: [{ id: 'nc', text: 'On attacker: `nc 10.0.0.20 4444`', cost: 3 }],
    },
    {
      id: 'banner-file',
      title: "Save target's banner on attacker",
      type: 'check',
      body: "On `attacker`, write the banner of target's port 4444 into `/root/banner.txt`, then press **Check**.",
      points: 10,
      requires: ['banner'],
      check: { vm: 'attacker', run: "grep -qF '{{banner_flag}}' /root/banner.txt", expect: { exitCode: 0 }, timeout: 10 },
      solution: { vm: 'attacker', run: 'nc -w 3 10.0.0.20 4444 </dev/null > /root/banner.txt' },
      hints: [{ id: 'redirect', text: 'Redirect what `nc` prints: `nc 10.0.0.20 4444 > /root/banner.txt`', cost: 3 }],
    },
  ],
};
