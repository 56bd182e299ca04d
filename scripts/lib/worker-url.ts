/** A Worker's address as the CLIs take it (`--url`): checked before anything is sent to it. */
import { isLoopbackHost } from "../../core/web-url";

export interface WorkerUrl {
  /** the origin, without a trailing slash */
  base: string;
  /** on this machine: it reads local KV, and may take `.dev.vars`' key */
  local: boolean;
}

/**
 * The Worker's address from `--url`: http(s), and plain http only on this machine (the admin key must not cross a
 * network in clear); `local` says whether it is on this machine (it then reads local KV, and may take `.dev.vars`'
 * key). Throws with what is wrong.
 */
export function workerUrl(raw: string): WorkerUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--url ${raw} is not a URL (http://127.0.0.1:8787, https://<your worker>)`);
  }
  const local = isLoopbackHost(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local))
    throw new Error(
      `--url ${raw}: https only (plain http only to this machine), so the admin key is not sent in clear`,
    );
  return { base: url.origin, local };
}
