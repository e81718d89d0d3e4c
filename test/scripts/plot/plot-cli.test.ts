import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, parseSavedReport, parseTimedLabels } from '../../../scripts/plot/plot-cli.ts';
import { hasErrorCode } from '../../../components/common/errors.ts';

const REPORT = {
  service: 'sensor-stats',
  rateHz: 500,
  target: '10.0.0.1:7000',
  startedAtEpochMs: 1_700_000_000_000,
  bucketMs: 100,
  buckets: [
    { startMs: 0, p50Ms: 1, p99Ms: 2, maxMs: 3, replied: 50, lost: 0 },
    { startMs: 100, p50Ms: 1, p99Ms: 9, maxMs: 12, replied: 49, lost: 1 },
  ],
};

describe('plot-cli', () => {
  describe('parseSavedReport', () => {
    it('keeps what a plot needs and builds a title from the run', () => {
      const saved = parseSavedReport('r.json', JSON.stringify(REPORT));
      assert.equal(saved.title, 'sensor-stats 500 Hz 10.0.0.1:7000');
      assert.equal(saved.buckets.length, 2);
    });

    const bad: Array<[string, string]> = [
      ['not JSON', '{'],
      ['buckets must be a list', JSON.stringify({ ...REPORT, buckets: {} })],
      [
        'buckets must be a list',
        JSON.stringify({ ...REPORT, buckets: [{ startMs: 0, p50Ms: '1', p99Ms: 2, maxMs: 3 }] }),
      ],
      ['startedAtEpochMs and bucketMs must be numbers', JSON.stringify({ ...REPORT, bucketMs: undefined })],
    ];
    for (const [reason, text] of bad) {
      it(`refuses ${text.slice(0, 40)}… with ERR_PLOT_BAD_INPUT (${reason})`, () => {
        assert.throws(
          () => parseSavedReport('r.json', text),
          (err: unknown) =>
            hasErrorCode(err, 'ERR_PLOT_BAD_INPUT') && (err as Error).message.includes(reason),
        );
      });
    }
  });

  describe('parseTimedLabels', () => {
    it('refuses an item without a label', () => {
      assert.throws(
        () => parseTimedLabels('e.json', '[{"atMs": 1}]', 'atMs'),
        (err: unknown) => hasErrorCode(err, 'ERR_PLOT_BAD_INPUT'),
      );
    });
  });

  describe('main', () => {
    it('places wall-clock events on the run axis, with the relative markers, in the SVG and HTML', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'plot-cli-'));
      try {
        await writeFile(join(dir, 'r.json'), JSON.stringify(REPORT));
        await writeFile(
          join(dir, 'e.json'),
          JSON.stringify([{ atEpochMs: REPORT.startedAtEpochMs + 130, label: 'freeze' }]),
        );
        await main([
          'node',
          'plot-cli.ts',
          '--report',
          join(dir, 'r.json'),
          '--events',
          join(dir, 'e.json'),
          '--markers',
          '[{"atMs": 90, "label": "start"}]',
          '--svg-out',
          join(dir, 'p.svg'),
          '--html-out',
          join(dir, 'p.html'),
        ]);
        const svg = await readFile(join(dir, 'p.svg'), 'utf8');
        assert.ok(svg.includes('<title>freeze at 130.0 ms</title>'), 'the event is 130 ms after the start');
        assert.ok(svg.indexOf('>start</text>') < svg.indexOf('>freeze</text>'), 'markers in time order');
        assert.ok(
          svg.includes('<title>100 ms: 1 lost</title>'),
          'the lost request is marked under its bucket',
        );
        const html = await readFile(join(dir, 'p.html'), 'utf8');
        assert.ok(html.includes('<tr><td>130.0</td><td>freeze</td></tr>'));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
