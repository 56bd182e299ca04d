/**
 * `npm run token -- --user U --campaign C [--ttl-days 30]` prints a signed URL token for one recipient;
 * `--unsubscribe` prints instead the token of that send's one-click unsubscribe link (core/unsubscribe-link.ts:
 * another key, two years of life), as `npm run email` puts in List-Unsubscribe.
 * The secret comes from TOKEN_SECRET in the environment (production) or `.dev.vars` (local).
 */

import { z } from "zod";
import { looksLikeEmail } from "../core/events";
import { DEFAULT_TOKEN_TTL_DAYS, mintToken } from "../core/token";
import { mintUnsubscribeToken } from "../core/unsubscribe-link";
import { cliArgs } from "./lib/cli-args";
import { tokenSecret } from "./lib/dev-vars";
import { tokenTtlDays } from "./lib/token-lifetime";

const USAGE = "usage: npm run token -- --user <user id> [--campaign <id>] [--ttl-days 30] [--unsubscribe]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      user: { type: "string" },
      campaign: { type: "string", default: "demo" },
      "ttl-days": { type: "string", default: String(DEFAULT_TOKEN_TTL_DAYS) },
      unsubscribe: { type: "boolean", default: false },
    },
  },
  z.object({ "ttl-days": tokenTtlDays() }),
);
if (!values.user) {
  console.error(`--user is required: the reader to mint a token for\n${USAGE}`);
  process.exit(2);
}
if (looksLikeEmail(values.user)) {
  console.error("user ids must be pseudonymous: hash email addresses with a secret salt first (see README, Privacy)");
  process.exit(2);
}
const ttlDays = values["ttl-days"];
try {
  const claims = { user: values.user, campaign: values.campaign as string, ttlSeconds: Math.round(ttlDays * 86400) };
  console.log(
    values.unsubscribe ? await mintUnsubscribeToken(tokenSecret(), claims) : await mintToken(tokenSecret(), claims),
  );
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
