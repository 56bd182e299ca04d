/**
 * globalSetup of the Node tests: every temporary directory a test makes (os.tmpdir(), in the test workers and in the
 * commands they spawn) lands under one directory of this run, which is removed when the run ends, so `npm test` leaves
 * nothing behind in /tmp however a test ends.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "opentime-tests-"));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
