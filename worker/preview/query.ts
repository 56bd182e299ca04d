/** The preview's query string (`user`, `campaign`, `layout`), parsed once for the endpoints that take it. */
import type { Context } from "hono";
import { z } from "zod";
import { CampaignIdSchema } from "../../core/campaign";
import { UserIdSchema } from "../../core/events";
import { LAYOUT_NAMES } from "../../core/layouts";
import type { AppEnv } from "../env";
import { invalidInput } from "../lib/zod-issues";

const PreviewQuerySchema = z.object({
  user: UserIdSchema,
  campaign: CampaignIdSchema.default("demo"),
  layout: z.enum(LAYOUT_NAMES as [string, ...string[]]).default("row"),
});

export interface PreviewQuery {
  user: string;
  campaign: string;
  layout: (typeof LAYOUT_NAMES)[number];
}

export function previewQuery(c: Context<AppEnv>): PreviewQuery {
  const input = c.req.query();
  const parsed = PreviewQuerySchema.safeParse(input);
  if (!parsed.success) throw invalidInput(parsed.error, "BAD_REQUEST", "", { input });
  return parsed.data as PreviewQuery;
}

/** The `layout` alone (the decisions endpoint: its email is told by its token). */
export function previewLayout(c: Context<AppEnv>): PreviewQuery["layout"] {
  const parsed = PreviewQuerySchema.shape.layout.safeParse(c.req.query("layout"));
  if (!parsed.success) throw invalidInput(parsed.error);
  return parsed.data as PreviewQuery["layout"];
}
