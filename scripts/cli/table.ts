// Plain-text tables for the node CLI's human output: a header row, left-aligned text and right-aligned
// numbers, columns as wide as their widest cell. Used by every command that lists things.
// Invariant: one output line per row plus the header; no colours, so output can be piped and diffed.

export interface Column<Row> {
  readonly header: string;
  readonly value: (row: Row) => string | number | boolean | null | undefined;
}

function cellText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string[] {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...cells.map((row) => cellText(row[index]).length)),
  );
  const line = (
    values: readonly (string | number | boolean | null | undefined)[],
    isHeader: boolean,
  ): string =>
    values
      .map((value, index) => {
        const text = isHeader ? String(value) : cellText(value);
        const width = widths[index] ?? 0;
        return typeof value === 'number' && !isHeader ? text.padStart(width) : text.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [
    line(
      columns.map((column) => column.header),
      true,
    ),
    ...cells.map((row) => line(row, false)),
  ];
}

/** Basis points (0..10000) as a percentage with one decimal. */
export function percentOfBp(bp: number): string {
  return `${(bp / 100).toFixed(1)}%`;
}
