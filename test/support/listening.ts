import type { ChildProcess } from "node:child_process";
import { connect as tcpConnect } from "node:net";

/**
 * Resolves once `address:port` takes connections; rejects with the process's
 * log if `child` (named `name`) exits first or it takes over 10 s.
 */
export async function listening(
  name: string,
  child: ChildProcess,
  address: string,
  port: number,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, address);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} within 10 s:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
