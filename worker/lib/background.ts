/**
 * Work that may finish after the response (KV writes of decisions, queued open and click events):
 * `waitUntil` when the runtime gives an execution context, else awaited before the response is sent. A failure never
 * reaches the response (it has been sent, or must not break): it is logged (`background.failed`) instead.
 */
import type { Context } from "hono";
import { errorMessage, logEvent } from "./log";

/** Hands work that must outlive the request to the runtime (`ExecutionContext.waitUntil`). */
export type WaitUntil = (work: Promise<unknown>) => void;

export interface Background {
  waitUntil: WaitUntil;
  /** awaits whatever could not be handed to the runtime */
  flush: () => Promise<void>;
}

export function background(c: Context): Background {
  let ctx: ExecutionContext | null = null;
  try {
    ctx = c.executionCtx as ExecutionContext;
  } catch {
    ctx = null; // no execution context (e.g. app.request in scripts)
  }
  const pending: Promise<unknown>[] = [];
  return {
    waitUntil: (p) => {
      const safe = p.catch((e: unknown) => logEvent("error", "background.failed", { error: errorMessage(e) }));
      if (ctx) ctx.waitUntil(safe);
      else pending.push(safe);
    },
    flush: async () => {
      await Promise.all(pending);
    },
  };
}
