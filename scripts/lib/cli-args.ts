/**
 * The scripts' command lines: node's parseArgs, except that a bad option (unknown, or missing its value) ends the
 * run with what was wrong and the usage line, exit code 2, instead of a stack trace.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

export function cliArgs<T extends ParseArgsConfig>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
}
