// What the `ctp` command line (apps/cli) uses from the server: configuration, backups, template validation.
export { loadConfig, type Config } from './config.js';
export { createBackup, readBackup, restoreBackup, type BackupManifest } from './backup/backup.js';
export { validateTemplate, type TemplateProblem } from './services/template-validation.js';
export { AppError } from './errors.js';
