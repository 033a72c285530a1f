#!/usr/bin/env node
// `/webhook` in the image: the command the reference webhook's manifests (its deploy/ folder, the kOps addon,
// the community chart) give the container, followed by its flags. It runs `kirsa webhook` with those flags,
// so an installation of the reference switches by changing only its image.
process.argv.splice(2, 0, 'webhook');
await import('./kirsa.js');
