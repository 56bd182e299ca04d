/**
 * A TCP port free on 127.0.0.1 now (for a Worker of the bench's own, or V8's inspector), and whether a given one is
 * taken (`npm start`'s, checked before its minutes of work rather than when wrangler cannot bind it).
 */
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Whether something already listens on `host`:`port` (a listen there fails with EADDRINUSE). */
export function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" ? resolve(true) : reject(e)));
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}
