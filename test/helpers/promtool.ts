import { spawnSync } from 'node:child_process';

/**
 * `promtool check metrics` on a scrape (stdin), Prometheus' own parser and linter. It comes from
 * Debian's prometheus package, which .ci/run installs; a missing promtool throws, so a test
 * using it fails rather than passing unchecked. Clean means status 0 and no output.
 */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool could not run (${run.error.message}): apt-get install prometheus, as .ci/run does`);
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}
