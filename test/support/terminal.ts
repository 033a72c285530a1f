// What a piece of code writes to the terminal while it runs: for the tests that hold a module to "reports
// through return values and callbacks, never to stdout or stderr". Every write still goes through (the test
// runner's own output must not be lost); the text ones are recorded.

type Write = typeof process.stdout.write;

export async function silenced<T>(run: () => Promise<T>): Promise<{ result: T; terminal: string }> {
  let terminal = '';
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write);
  for (const [index, stream] of streams.entries()) {
    const original = originals[index]!;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string') terminal += chunk;
      return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as Write;
  }
  try {
    return { result: await run(), terminal };
  } finally {
    for (const [index, stream] of streams.entries()) stream.write = originals[index]!;
  }
}
