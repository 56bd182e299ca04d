/** The README's table of error codes is exactly the closed set of worker/errors.ts, each with its HTTP status. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../worker/errors";

function readmeCodes(): [string, number][] {
  const lines = readFileSync("README.md", "utf8").split("\n");
  const start = lines.findIndex((l) => l.startsWith("| code | status |"));
  expect(start).toBeGreaterThan(0);
  const codes: [string, number][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const [, code = "", status = ""] = line.split("|");
    codes.push([code.trim().replace(/^`|`$/g, ""), Number(status.trim())]);
  }
  return codes;
}

describe("error codes", () => {
  it("the README lists every code once with its status, and nothing else", () => {
    const listed = readmeCodes();
    expect(new Set(listed.map(([code]) => code)).size).toBe(listed.length);
    expect(Object.fromEntries(listed)).toEqual(ERROR_STATUS);
  });
});
