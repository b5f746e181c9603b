export * from './driver.js';
export * from './errors.js';
export * from './command-runner.js';
