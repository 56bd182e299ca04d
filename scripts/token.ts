/**
 * `npm run token -- --user U --campaign C [--ttl-days 30]` prints a signed URL token for one recipient.
 * The secret comes from TOKEN_SECRET in the environment (production) or `.dev.vars` (local).
 */

import { z } from "zod";
import { looksLikeEmail } from "../core/events";
import { DEFAULT_TOKEN_TTL_DAYS, mintToken } from "../core/token";
import { cliArgs } from "./lib/cli-args";
import { tokenSecret } from "./lib/dev-vars";
import { tokenTtlDays } from "./lib/token-lifetime";

const USAGE = "usage: npm run token -- --user <user id> [--campaign <id>] [--ttl-days 30]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      user: { type: "string" },
      campaign: { type: "string", default: "demo" },
      "ttl-days": { type: "string", default: String(DEFAULT_TOKEN_TTL_DAYS) },
    },
  },
  z.object({ "ttl-days": tokenTtlDays() }),
);
if (!values.user) {
  console.error(USAGE);
  process.exit(2);
}
if (looksLikeEmail(values.user)) {
  console.error("user ids must be pseudonymous: hash email addresses with a secret salt first (see README, Privacy)");
  process.exit(2);
}
const ttlDays = values["ttl-days"];
try {
  console.log(
    await mintToken(tokenSecret(), {
      user: values.user,
      campaign: values.campaign as string,
      ttlSeconds: Math.round(ttlDays * 86400),
    }),
  );
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
