// node:http's functions, taken from Node's module table rather than imported as an ES module. The first
// `import ... from 'node:http'` anywhere in a process builds the module's ES facade, which reads every export
// once, including the lazy WebSocket, CloseEvent and MessageEvent getters: that loads undici, and with it
// http2, zlib, worker_threads and the web streams, none of which kirsa uses. Measured under the image's
// flags (2026-12-01): a process doing `import 'node:http'` idles at +8.5 MB of RSS over the same process
// taking the module this way (59.6 against 46.1 MB; importing node:https costs +0). Type-only imports of
// node:http are erased, so they stay as they are; test/static/builtin-imports.test.ts keeps value imports
// of node:http out of src/.

export const { createServer, request } = process.getBuiltinModule('node:http');
