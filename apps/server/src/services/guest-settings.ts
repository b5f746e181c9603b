import { SETTING_KEY_PATTERN, SETTING_VALUE_PATTERN, type LabTemplateConfig } from '@ctp/contracts';
import { labPrefix } from '../labs/lab-operation.js';

const KEY = new RegExp(SETTING_KEY_PATTERN);
const VALUE = new RegExp(SETTING_VALUE_PATTERN);
const MAX_VALUE_LENGTH = 128;

// A kernel command line is world-readable in the guest (/proc/cmdline): settings whose name says
// they are secret (a flag, a password, a token, a key, an answer) never go there.
const SECRET_WORD = /(^|_)(flag|secret|password|passwd|pass|pw|token|key|answer|otp)(_|\d|$)/;

/** Whether a template setting holds a secret, by its name. */
export function isSecretSetting(key: string): boolean {
  return SECRET_WORD.test(key);
}

/**
 * The `ctp.KEY=VALUE` kernel arguments of a VM's non-secret settings. Checks every key and value
 * again (a template stored before validation was strict must not inject arguments either).
 */
export function kernelSettingArgs(settings: Record<string, string> = {}): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    if (!KEY.test(key)) throw new Error(`guest setting name ${JSON.stringify(key)} is not allowed`);
    if (typeof value !== 'string' || value.length > MAX_VALUE_LENGTH || !VALUE.test(value))
      throw new Error(`guest setting "${key}" has a value that is not allowed on a kernel command line`);
    if (!isSecretSetting(key)) args.push(`ctp.${key}=${value}`);
  }
  return args;
}

/** A VM's NIC as recorded: its network, its address (if static) and MAC. */
export type NicRecord = { network: string; address: string | null; mac?: string };

/** The kernel command line that configures a demo guest: hostname, addresses, non-secret settings (and its lab, unless it is a template's reference VM). */
export function guestArgs(
  labId: string | null,
  vmName: string,
  nics: NicRecord[],
  config: LabTemplateConfig,
  settings: Record<string, string> = {},
): string {
  const args = [`ctp.hostname=${vmName}`, ...(labId ? [`ctp.lab=${labPrefix(labId)}`] : [])];
  nics.forEach((nic, i) => {
    if (!nic.address) return;
    const bits = config.networks.find((n) => n.name === nic.network)?.cidr.split('/')[1] ?? '24';
    args.push(`ctp.ip${i}=${nic.address}/${bits}`);
    if (i === 0) args.push(`ctp.ip=${nic.address}/${bits}`);
  });
  args.push(...kernelSettingArgs(settings));
  return args.join(' ');
}
