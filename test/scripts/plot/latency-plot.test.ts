import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import {
  escapeXml,
  linearTicks,
  markersFromEvents,
  renderLatencyHtml,
  renderLatencySvg,
} from '../../../scripts/plot/latency-plot.ts';
import type { LatencyPoint, PlotMarker } from '../../../scripts/plot/latency-plot.ts';

const BUCKETS: LatencyPoint[] = [
  { startMs: 0, p50Ms: 0.4, p99Ms: 1.1, maxMs: 2.0, replied: 10 },
  { startMs: 100, p50Ms: 0.5, p99Ms: 9.5, maxMs: 31.0, replied: 10 },
  { startMs: 200, p50Ms: 0, p99Ms: 0, maxMs: 0, replied: 0 },
  { startMs: 300, p50Ms: 0.4, p99Ms: 1.0, maxMs: 1.5, replied: 10 },
];
const MARKERS: PlotMarker[] = [
  { atMs: 90, label: 'migration start' },
  { atMs: 120, label: 'freeze' },
  { atMs: 135, label: 'cutover <A→B> & "commit"' },
];

interface SvgNode {
  readonly [name: string]: unknown;
}

function parseSvg(svg: string): SvgNode {
  const verdict = XMLValidator.validate(svg);
  assert.equal(verdict, true, `SVG must be well-formed XML: ${JSON.stringify(verdict)}`);
  return new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(svg) as SvgNode;
}

describe('latency-plot', () => {
  describe('renderLatencySvg', () => {
    it('produces well-formed SVG with one dashed line and label per marker', () => {
      const svg = renderLatencySvg({
        buckets: BUCKETS,
        bucketMs: 100,
        markers: MARKERS,
        title: 'sensor-stats A→B',
      });
      const root = parseSvg(svg).svg as SvgNode;
      assert.equal(root['@xmlns'], 'http://www.w3.org/2000/svg', 'root is an SVG element');
      const groups = (root.g as SvgNode[]).filter((g) => g['@class'] === 'marker');
      assert.equal(groups.length, 3, 'one group per marker');
      assert.deepEqual(
        groups.map((g) => (g.text as SvgNode)['#text']),
        ['migration start', 'freeze', 'cutover <A→B> & "commit"'],
        'labels survive the round trip through XML (escaped in the SVG), in order',
      );
      assert.ok(
        groups.every((g) => (g.line as SvgNode)['@stroke-dasharray'] === '4 3'),
        'markers are dashed vertical lines',
      );
    });

    it('draws p50, p99 and max as paths with a gap where a bucket had no replies', () => {
      const svg = renderLatencySvg({ buckets: BUCKETS, bucketMs: 100 });
      const paths = (parseSvg(svg).svg as SvgNode).path as SvgNode[];
      assert.deepEqual(
        paths.map((p) => p['@class']),
        ['series-p50', 'series-p99', 'series-max'],
        'three series in order',
      );
      for (const path of paths) {
        const d = String(path['@d']);
        assert.equal(
          d.match(/M/g)?.length,
          2,
          `the empty bucket splits ${String(path['@class'])} in two: ${d}`,
        );
        assert.equal(d.match(/L/g)?.length, 1, 'three points drawn, two joined');
      }
    });

    it('places a marker at its time on the x axis', () => {
      // 960 px wide, margins 64 and 24: the plot spans 872 px over 0..400 ms, so 250 ms is at 64 + 545.
      const svg = renderLatencySvg({
        buckets: BUCKETS,
        bucketMs: 100,
        markers: [{ atMs: 250, label: 'cutover' }],
      });
      assert.match(
        svg,
        /<line x1="609\.0" y1="48" x2="609\.0" y2="376" stroke="#555555" stroke-dasharray="4 3"\/>/,
      );
    });

    it('stays well-formed with no buckets and a log scale', () => {
      parseSvg(renderLatencySvg({ buckets: [], markers: MARKERS, yScale: 'log' }));
      parseSvg(renderLatencySvg({ buckets: BUCKETS, yScale: 'log' }));
    });
  });

  describe('renderLatencyHtml', () => {
    it('wraps the SVG and lists the events in a table', () => {
      const html = renderLatencyHtml({ buckets: BUCKETS, markers: MARKERS, title: 'run <1>' });
      assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">'), 'an HTML5 document');
      assert.ok(html.includes('<title>run &lt;1&gt;</title>'), 'the title is escaped');
      assert.ok(html.includes('<tr><td>120.0</td><td>freeze</td></tr>'), 'each marker has a row');
      const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>') + 6);
      parseSvg(svg);
    });
  });

  describe('helpers', () => {
    it('escapes the five XML special characters', () => {
      assert.equal(escapeXml(`<a & 'b' "c">`), '&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;');
    });

    it('converts wall-clock events to markers relative to the run start', () => {
      assert.deepEqual(markersFromEvents(1_000_000, [{ atEpochMs: 1_001_250, label: 'freeze' }]), [
        { atMs: 1250, label: 'freeze' },
      ]);
    });

    const tickCases: Array<[number, number[]]> = [
      [400, [0, 100, 200, 300, 400]],
      [7, [0, 2, 4, 6]],
      [0.9, [0, 0.2, 0.4, 0.6, 0.8]],
      [0, [0]],
    ];
    for (const [max, expected] of tickCases) {
      it(`puts linear ticks for max ${max} at ${expected.join(', ')}`, () => {
        assert.deepEqual(linearTicks(max), expected);
      });
    }
  });
});
