// What a piece of code writes to the terminal while it runs, for the tests proving that a workflow reports
// only through what it returns and the callbacks it is given (never process.stdout or process.stderr).
// The writes still reach the terminal, so a test's own output is never lost. Only text is recorded: under
// `node --test` the runner reports through stdout in binary (Buffers), and kirsa writes text.

export async function terminalWrites<T>(run: () => Promise<T>): Promise<{ result: T; written: string[] }> {
  const written: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write);
  for (const [index, stream] of streams.entries()) {
    const original = originals[index]!;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string') written.push(chunk);
      return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
  }
  try {
    return { result: await run(), written };
  } finally {
    for (const [index, stream] of streams.entries()) stream.write = originals[index]!;
  }
}
