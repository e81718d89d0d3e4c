// Runs STF files against the reference pipeline from the command line:
// `tsx p4/stf/run-stf.ts [--verbose] <file.stf>...` prints PASS/FAIL per file with the runner's report
// (file:line, expected vs actual hex) and exits 1 when any file fails or cannot be parsed.
import { Command } from 'commander';
import { formatStfReport, runStfFile } from './stf-runner.ts';

const program = new Command()
  .name('run-stf')
  .description('run p4c STF test files against the EdgeShift reference pipeline')
  .argument('<files...>', 'STF files (e.g. p4/tests/*.stf)')
  .option('--verbose', 'also print register/counter reads and outputs on unwatched ports', false)
  .parse();

const files = program.args;
const { verbose } = program.opts<{ verbose: boolean }>();
let failed = 0;
for (const file of files) {
  try {
    const result = await runStfFile(file);
    console.log(formatStfReport(result));
    if (verbose) for (const note of result.notes) console.log(`  note: ${note}`);
    if (!result.isPassed) failed += 1;
  } catch (err) {
    console.log(`FAIL ${file}: ${err instanceof Error ? err.message : String(err)}`);
    failed += 1;
  }
}
console.log(`${files.length - failed}/${files.length} STF files passed`);
process.exitCode = failed === 0 ? 0 : 1;
