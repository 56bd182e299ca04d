/**
 * The memory of the workerd process a Miniflare of this Node process runs, from Linux's /proc: its resident set
 * now (VmRSS) and at its peak (VmHWM), in MiB. workerd reports no isolate heap, so this is the one figure there is:
 * the whole process (runtime, the isolate's JavaScript heap, ORT's wasm memory, caches), an upper bound on what
 * the isolate holds. Null off Linux, or when no workerd child is found.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface WorkerdMemory {
  rss_mib: number;
  peak_mib: number;
}

/** The workerd processes whose parent is this process (Miniflare starts the binary itself). */
function workerdChildren(): number[] {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  return pids.flatMap((pid) => {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ...", comm in parentheses and possibly holding spaces
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      return comm === "workerd" && ppid === process.pid ? [Number(pid)] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
}

const mib = (status: string, field: string) => {
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return Math.round((kb / 1024) * 10) / 10;
};

/** The one running workerd child's memory; null when there is none or more than one (which would be ambiguous). */
export function workerdMemory(): WorkerdMemory | null {
  const children = workerdChildren();
  if (children.length !== 1) return null;
  try {
    const status = readFileSync(`/proc/${children[0]}/status`, "utf8");
    return { rss_mib: mib(status, "VmRSS"), peak_mib: mib(status, "VmHWM") };
  } catch {
    return null;
  }
}
