/**
 * A vitest reporter for run-suite.mjs: prints `▶ <file>` when a test file starts, so that when workerd stalls the
 * watchdog knows which files were running (vitest's own reporter names a file only once it has ended).
 */
import { relative } from "node:path";

export default class StartReporter {
  onTestModuleStart(testModule) {
    process.stderr.write(`▶ ${relative(process.cwd(), testModule.moduleId)}\n`);
  }
}
