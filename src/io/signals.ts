// The one wait for the signals that stop a long-running kirsa process (a server): SIGINT from a terminal,
// SIGTERM from Kubernetes or a test harness. Every server verb stops the same way, so it is written once.

export interface StopSignal {
  /** Resolves with the first SIGINT or SIGTERM. */
  received: Promise<NodeJS.Signals>;
  /** Removes the listeners (after the first signal this is done already, unless onRepeat was given). */
  release(): void;
}

/**
 * Listens for SIGINT and SIGTERM. Without onRepeat the listeners go after the first signal; with it they
 * stay, and each later signal calls it (a server draining on the first signal closes at once on the second).
 */
export function onStopSignal(onRepeat?: (signal: NodeJS.Signals) => void): StopSignal {
  let release = () => {};
  const received = new Promise<NodeJS.Signals>((resolve) => {
    let seen = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (seen) {
        onRepeat?.(signal);
        return;
      }
      seen = true;
      if (!onRepeat) release();
      resolve(signal);
    };
    release = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return { received, release };
}

/** Waits for the first SIGINT or SIGTERM. */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return onStopSignal().received;
}
