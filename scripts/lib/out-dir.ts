/**
 * An output directory checked before the work that fills it, so an `--out` that names a file (or lies under one)
 * stops a command at once, not after the minutes of training or evaluation it would otherwise throw away. Nothing is
 * made here: the command makes the directory when it writes.
 */
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

export async function checkOut(out: string): Promise<void> {
  const target = resolve(out);
  // the nearest part of the path that exists must be a directory
  for (let path = target; ; path = dirname(path)) {
    const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT" || e.code === "ENOTDIR") return null;
      throw e;
    });
    if (st?.isDirectory()) return;
    if (st)
      throw new Error(
        `--out ${out}: not a directory (${path === target ? "a file of that name exists" : "a part of the path is a file"}); name a directory, made if missing`,
      );
    if (dirname(path) === path) return;
  }
}
