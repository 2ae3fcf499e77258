/**
 * `npm run bench [-- area…]`: runs every `bench/<area>.bench.ts` module's `run()` (or only
 * the areas named), writes `bench/results/<area>.json` with the machine it ran on, and
 * prints one table. Areas run one after another so that they do not share the CPU.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { machine, type BenchResult } from './harness.js';

export type { BenchResult } from './harness.js';

interface BenchModule {
  run(): Promise<BenchResult[]>;
}

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const RESULTS_DIR = join(BENCH_DIR, 'results');
const SUFFIX = '.bench.ts';

function isBenchModule(candidate: unknown): candidate is BenchModule {
  return typeof candidate === 'object' && candidate !== null && typeof (candidate as { run?: unknown }).run === 'function';
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}

function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
}

async function main(areasWanted: readonly string[]): Promise<void> {
  const areas = readdirSync(BENCH_DIR)
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => file.slice(0, -SUFFIX.length))
    .filter((area) => areasWanted.length === 0 || areasWanted.includes(area))
    .sort();
  if (areas.length === 0) throw new Error(`no bench/*${SUFFIX} module matches ${areasWanted.join(', ')}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const host = machine();
  const table: string[][] = [['area', 'name', 'value', 'unit', 'baseline', 'baseline value', 'ratio', 'goal']];
  for (const area of areas) {
    const loaded: unknown = await import(pathToFileURL(join(BENCH_DIR, `${area}${SUFFIX}`)).href);
    if (!isBenchModule(loaded)) throw new Error(`bench/${area}${SUFFIX} exports no run()`);
    const results = await loaded.run();
    writeFileSync(join(RESULTS_DIR, `${area}.json`), `${JSON.stringify({ machine: host, results }, null, 2)}\n`);
    for (const r of results) table.push([area, r.name, formatNumber(r.value), r.unit, r.baseline, formatNumber(r.baseline_value), `${r.ratio.toFixed(2)}x`, r.goal]);
  }
  console.log(`${host.cpu_model} × ${host.cpu_count}, ${(host.memory_bytes / 2 ** 30).toFixed(1)} GiB, node ${host.node_version}, ${host.platform}\n`);
  printTable(table);
}

await main(process.argv.slice(2));
