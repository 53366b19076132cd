/**
 * `work`'s outcome, or the error `timedOut` makes after `ms`: for a caller
 * that must not wait on a server that does not answer. The work itself goes
 * on (its rejection, if any, is no one's to hear).
 */
export function answeredWithin<T>(work: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  work.catch(() => {});
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
