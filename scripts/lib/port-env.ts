/**
 * The port `npm start` serves on, from the environment's PORT (unset: 8787): decimal digits naming a TCP port,
 * 1-65535, else a message saying what was wrong, so a bad PORT stops the command before anything starts
 * (`Number("abc")` is NaN, `Number("")` 0, `Number("8787.5")` a port no socket has).
 */
export const DEFAULT_PORT = 8787;

export function portFromEnv(value: string | undefined): { port: number } | { error: string } {
  if (value === undefined) return { port: DEFAULT_PORT };
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (port >= 1 && port <= 65535) return { port };
  const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return {
    error: `PORT=${shown} is not a port: give a whole number from 1 to 65535 (PORT=8792 npm start), or leave PORT unset for ${DEFAULT_PORT}`,
  };
}
