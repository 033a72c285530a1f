// Port and process helpers, shared with the product's local tooling.
export { freePort, stopProcess } from '../../src/local/processes.ts';
