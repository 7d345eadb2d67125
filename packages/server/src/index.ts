export { type ConfigOverrides, loadConfig, type ServerConfig } from './config.js';
export { type DataPaths, dataPaths } from './paths.js';
export { type RunningServer, runServer, type StartServerOptions, startServer } from './server.js';
