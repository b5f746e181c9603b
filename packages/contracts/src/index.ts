export * from './common.js';
export * from './users.js';
export * from './auth.js';
export * from './audit.js';
export * from './health.js';
export * from './templates.js';
export * from './labs.js';
export * from './consoles.js';
