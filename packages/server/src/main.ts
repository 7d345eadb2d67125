import { runServer } from './server.js';

// `node packages/server/dist/main.js`: the server with its embedded defaults and PADDOCK_* env.
await runServer();
