// Helpers for tests that boot real guests (here and in the server's tests); not part of the runtime API.
export * from './demo-images.js';
export * from './host.js';
export * from './serial.js';
export * from './scripted-runner.js';
export { testAcceleratorCache } from './accelerator-cache.js';
