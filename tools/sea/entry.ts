// The single executable's entry (bundled by tools/sea/build.sh): the `kirsa` command, or the s3-echoer
// example when the demo asks for it (src/self.ts), since the executable cannot run a second script.
// bin/kirsa.js's Node gate has no place here: the executable carries the Node it was built with.
// No top-level await: the bundle is CommonJS, the one format Node 24's single executables load.

import { SEA_EXAMPLE_ENV } from '../../src/self.ts';

if (process.env[SEA_EXAMPLE_ENV] === 's3-echoer') {
  // The example runs itself when loaded.
  void import('../../examples/s3-echoer/s3-echoer.ts');
} else {
  void import('../../src/cli/main.ts').then(async ({ main }) => {
    process.exitCode = await main(process.argv.slice(2));
  });
}
