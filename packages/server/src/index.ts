export { startServer, runServer, type RunningServer } from './server.js';
export { loadConfig, type ServerConfig, type ConfigOverrides } from './config.js';
export { dataPaths, type DataPaths } from './paths.js';
