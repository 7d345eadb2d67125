export * from './commands.js';
export * from './errors.js';
export * from './files.js';
export * from './ndjson.js';
export * from './sandbox.js';
export * from './templates.js';
