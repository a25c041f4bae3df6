import { describe, expect, it } from 'vitest';
import { autoRows, fitGrid, gridLayout, heatmapHeight, integerTicks, panelWidth, parseRange } from './layout';

describe('small multiples layout', () => {
  it('fills n_rows rows row by row, rounding the columns up (no panel dropped)', () => {
    const g = gridLayout(16, 4);
    expect([g.rows, g.cols]).toEqual([4, 4]);
    expect(g.cells[0]).toEqual({ row: 0, col: 0 });
    expect(g.cells[5]).toEqual({ row: 1, col: 1 });
    expect(g.cells[15]).toEqual({ row: 3, col: 3 });

    const odd = gridLayout(6, 4); // See RNN's int(6 / 4) = 1 column would show 4 of 6
    expect([odd.rows, odd.cols]).toEqual([3, 2]);
    expect(odd.cells.map((c) => `${c.row}${c.col}`)).toEqual(['00', '01', '10', '11', '20', '21']);
  });

  it('clamps the rows to [1, n] and handles no panels', () => {
    expect(gridLayout(3, 10)).toMatchObject({ rows: 3, cols: 1 });
    expect(gridLayout(3, 0)).toMatchObject({ rows: 1, cols: 3 });
    expect(gridLayout(0, 2)).toEqual({ rows: 0, cols: 0, cells: [] });
  });

  it('picks See RNN-like rows by default: 16 samples in 4 rows, 6 channels in 2', () => {
    expect(autoRows(16, 1)).toBe(4);
    expect(autoRows(6, 1.5)).toBe(2);
    expect(autoRows(1)).toBe(1);
    expect(gridLayout(16)).toMatchObject({ rows: 4, cols: 4 });
  });

  it('sizes panels to the space, never below the minimum', () => {
    expect(panelWidth(1000, 4, 8)).toBe(244); // (1000 - 3·8) / 4
    expect(panelWidth(100, 10, 8, 40)).toBe(40);
    expect(panelWidth(100, 0, 8)).toBe(0);
  });

  it('keeps heatmap heights between half and the full width', () => {
    expect(heatmapHeight(200, 500, 256)).toBe(102); // the data's own aspect
    expect(heatmapHeight(200, 100, 6)).toBe(100); // thin data: half the width
    expect(heatmapHeight(200, 20, 512)).toBe(200); // tall data: square
  });

  it('parses channel ranges', () => {
    expect(parseRange('0-15', 256)).toEqual([0, 16]);
    expect(parseRange(' 7 ', 10)).toEqual([7, 8]);
    expect(parseRange('20-5', 256)).toEqual([5, 21]);
    expect(parseRange('250-300', 256)).toEqual([250, 256]);
    expect(parseRange('300', 256)).toBeNull();
    expect(parseRange('a-b', 256)).toBeNull();
    expect(parseRange(null, 256)).toBeNull();
  });

  it('puts integer ticks at 1, 2 or 5 × 10^k steps', () => {
    expect(integerTicks(100, 6)).toEqual([0, 20, 40, 60, 80]);
    expect(integerTicks(6, 6)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(integerTicks(500, 4)).toEqual([0, 200, 400]);
    expect(integerTicks(100, 2)).toEqual([0, 99]);
    expect(integerTicks(0, 5)).toEqual([]);
  });
});

describe('fitGrid (issue 12, item 4: small multiples never overlap the next block)', () => {
  it('adds rows until the columns fit the block', () => {
    // 16 channels in a 448 px block (3 iterations at 1400 px), 8 px gaps, charts at least 110 px
    const g = fitGrid(16, null, 448, 8, 110, 1.5);
    expect(g.cols).toBe(3);
    expect(g.rows).toBe(6);
    expect(g.width).toBeLessThanOrEqual(448);
    expect(g.panel).toBe(144);
    // the old composition of the same numbers was 6 columns × 110 px = 700 px in a 448 px block
    const old = gridLayout(16, autoRows(16, 1.5));
    expect(old.cols * panelWidth(448, old.cols, 8, 110) + 8 * (old.cols - 1)).toBeGreaterThan(448);
  });

  it('keeps asked-for rows and reports the width they take', () => {
    const g = fitGrid(16, 2, 448, 8, 110);
    expect(g.cols).toBe(8);
    expect(g.width).toBe(8 * 110 + 7 * 8);
    expect(fitGrid(4, null, 2000, 8, 110, 1.5)).toMatchObject({ rows: 2, cols: 2 });
  });
});
