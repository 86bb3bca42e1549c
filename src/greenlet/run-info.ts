/**
 * Run info: every live greenlet as a spawn tree, what each waits on and for how long, plus waits of
 * top-level code and held wakers. `LoopExit` messages embed the text form.
 */
import { nodes } from '../internal/intrusive-list.js';
import { now } from '../internal/natives.js';
import type { Greenlet, GreenletState } from './greenlet.js';
import { formatMs, type Hub } from './hub.js';
import type { Waiter } from './waiter.js';

/** One parked wait. */
export interface WaitInfo {
  /** `wait`, `join`, `get`, `put`, `acquire`, `sleep`… */
  op: string;
  /** What is waited on, e.g. `Event(unset)`, `Queue(0/10)`, `Greenlet-4`. */
  on: string;
  /** How long it has been parked. */
  forMs: number;
}

/** One live greenlet. */
export interface RunInfoEntry {
  id: number;
  name: string;
  state: GreenletState;
  /** The function it runs. */
  function: string;
  waits: WaitInfo[];
  /** Operations in flight outside the hub (pool tasks, patched I/O), by kind. */
  operations: Record<string, number>;
  /** Where it was spawned, when `getHub().trackSpawnSites` is on. */
  spawnSite?: string;
  /** Live greenlets it spawned. */
  children: RunInfoEntry[];
}

export interface RunInfo {
  /** Live greenlets whose spawner is not alive (or top-level code), each with its subtree. */
  greenlets: RunInfoEntry[];
  /** Waits of code running outside any greenlet. */
  topLevel: WaitInfo[];
  /** Held wakers: work elsewhere that will wake the hub (pool tasks…). */
  wakers: { label: string; forMs: number }[];
  /**
   * Continuations abandoned by a kill or a `withTimeout` deadline and still awaiting something
   * greenhub does not see: their results will be discarded (see fence.ts).
   */
  abandoned: { what: string; forMs: number }[];
}

function waitsOf(first: Waiter | null, t: number): WaitInfo[] {
  return [...nodes(first)].map((w) => ({ op: w.op, on: String(w.on), forMs: t - w.since }));
}

function operationsOf(greenlet: Greenlet): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const op of nodes(greenlet._operations)) counts[op.kind] = (counts[op.kind] ?? 0) + 1;
  return counts;
}

export function runInfo(hub: Hub): RunInfo {
  const t = now();
  const entries = new Map<Greenlet, RunInfoEntry>();
  for (const g of hub._liveGreenlets()) {
    const entry: RunInfoEntry = {
      id: g.id,
      name: g.name,
      state: g.state,
      function: g._functionName(),
      waits: waitsOf(g._wfirst, t),
      operations: operationsOf(g),
      children: [],
    };
    const site = g.spawnSite;
    if (site !== undefined) entry.spawnSite = site;
    entries.set(g, entry);
  }
  const roots: RunInfoEntry[] = [];
  // The live list is newest first; walk it backwards so that siblings appear in spawn order.
  for (const [g, entry] of [...entries].reverse()) {
    const parent = g.parent === null ? undefined : entries.get(g.parent);
    (parent === undefined ? roots : parent.children).push(entry);
  }
  return {
    greenlets: roots,
    topLevel: waitsOf(hub._top._wfirst, t),
    wakers: [...hub._wakerRecords()].map((w) => ({ label: w.label, forMs: t - w.since })),
    abandoned: [...hub._abandonedRecords()].map((a) => ({ what: a.describe(), forMs: t - a.abandonedAt })),
  };
}

function describeWaits(waits: WaitInfo[]): string {
  return waits.map((w) => `${w.op}() on ${w.on} for ${formatMs(w.forMs)}`).join('; ');
}

export function formatRunInfo(hub: Hub, limit: number): string {
  const info = runInfo(hub);
  const stats = hub.stats().greenlets;
  const lines = [
    `Run info: ${stats.live} live greenlet${stats.live === 1 ? '' : 's'} ` +
      `(${stats.running} running, ${stats.waiting} waiting, ${stats.scheduled} scheduled)`,
  ];
  let omitted = 0;
  const emit = (line: string): void => {
    if (lines.length <= limit) lines.push(line);
    else omitted++;
  };
  const walk = (entry: RunInfoEntry, depth: number): void => {
    const pad = '  '.repeat(depth + 1);
    const label =
      entry.name === `Greenlet-${entry.id}` ? entry.name : `"${entry.name}" (Greenlet-${entry.id})`;
    const ops = Object.entries(entry.operations).map(([kind, n]) => `${kind} ×${n}`);
    const doing =
      entry.waits.length > 0
        ? `waiting in ${describeWaits(entry.waits)}`
        : ops.length > 0
          ? `awaiting ${ops.join(', ')}`
          : entry.state === 'running'
            ? 'running (or awaiting something greenhub does not track)'
            : entry.state;
    emit(`${pad}- ${label} running ${entry.function}: ${doing}`);
    if (entry.spawnSite !== undefined) {
      for (const frame of entry.spawnSite.split('\n').slice(0, 3)) emit(`${pad}    spawned ${frame.trim()}`);
    }
    for (const child of entry.children) walk(child, depth + 1);
  };
  for (const root of info.greenlets) walk(root, 0);
  for (const w of info.topLevel) emit(`  - top-level code: waiting in ${describeWaits([w])}`);
  for (const w of info.wakers) emit(`  - waker: ${w.label} (held for ${formatMs(w.forMs)})`);
  for (const a of info.abandoned) emit(`  - abandoned continuation: ${a.what} ${formatMs(a.forMs)} ago`);
  if (omitted > 0) lines.push(`  … and ${omitted} more line${omitted === 1 ? '' : 's'}`);
  return lines.join('\n');
}
