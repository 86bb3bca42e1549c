/**
 * `greenhub_greenlet_loop_seconds_total{name}`: event-loop time spent running each greenlet's code,
 * by greenlet name — for an HTTP server, by route (its handler greenlets are named `GET /users/:id`).
 * Opt-in (`collectMetrics({ loopTime: true })`): it times every async callback.
 *
 * A greenlet's code runs in segments: the first, from its start to its first `await`, is run by the
 * hub (`Greenlet._run`), which reports its length through `hub._onRunSegment`; every later segment
 * is an async callback (a promise reaction, a timer, an I/O callback) whose async context is the
 * greenlet's, timed here between async_hooks' `before` and `after`. A segment run inside another's
 * callback (a greenlet started synchronously from a callback) is subtracted from the outer one, so
 * nothing is counted twice. What is not a greenlet's (Node's own HTTP parsing, code outside any
 * greenlet) is not counted: the sum over names is at most the loop's busy time.
 *
 * Cost: two clock reads and two hook calls per async callback while enabled (async_hooks'
 * `before`/`after` also turn on V8's promise hooks for every `await`) — measured in
 * `test/metrics/loop-time.test.ts` and the README; off by default.
 */
import { createHook } from 'node:async_hooks';
import { currentGreenlet, metricName, runSegmentHook, setRunSegmentHook } from '../greenlet/internal.js';
import { now } from '../internal/natives.js';
import { OTHER } from './names.js';

/** Distinct names remembered as mapping to `other` (beyond that they are looked up each time). */
const OTHER_CACHE = 10_000;

class LoopTime {
  limit = 0;
  private users = 0;
  private own = 0;
  /** Milliseconds by name; names past the limit share the `other` cell. */
  private readonly cells = new Map<string, { ms: number }>();
  private other = { ms: 0 };
  /** The name of the greenlet whose async callback is running (read at `before`: it may die in it). */
  private current: string | undefined = undefined;
  private startedAt = 0;
  private innerMs = 0;
  /** Outer callbacks interrupted by a nested one (rare: `runInAsyncScope` inside a callback). */
  private readonly outer: [string | undefined, number, number][] = [];

  private readonly hook = createHook({
    before: () => {
      // An uncaught exception skips `after`: a deep stack is stale, not nesting.
      if (this.outer.length > 64) this.outer.length = 0;
      if (this.current !== undefined) {
        // Nested: close the outer callback's time so far; it resumes after this one.
        this.add(this.current, now() - this.startedAt - this.innerMs);
      }
      this.outer.push([this.current, this.startedAt, this.innerMs]);
      const greenlet = currentGreenlet();
      this.current = greenlet === undefined ? undefined : metricName(greenlet);
      this.innerMs = 0;
      if (this.current !== undefined) this.startedAt = now();
    },
    after: () => {
      const end = this.current === undefined ? 0 : now();
      if (this.current !== undefined) this.add(this.current, end - this.startedAt - this.innerMs);
      const outer = this.outer.pop();
      this.current = outer?.[0];
      this.innerMs = 0;
      if (this.current !== undefined) this.startedAt = end === 0 ? now() : end;
    },
  });

  /** The hub's report of a first segment (`Greenlet._run`). */
  private readonly segment = (name: string, ms: number): void => {
    this.add(name, ms);
    if (this.current !== undefined) this.innerMs += ms;
  };

  private add(name: string, ms: number): void {
    let cell = this.cells.get(name);
    if (cell === undefined) {
      if (this.own < this.limit) {
        cell = { ms: 0 };
        this.own++;
        this.cells.set(name, cell);
      } else {
        cell = this.other;
        if (this.cells.size < this.limit + OTHER_CACHE) this.cells.set(name, cell);
      }
    }
    cell.ms += ms;
  }

  attach(limit: number): boolean {
    if (this.users > 0 && limit !== this.limit) return false;
    this.limit = limit;
    if (this.users++ === 0) {
      setRunSegmentHook(this.segment);
      this.hook.enable();
    }
    return true;
  }

  /** The last collection closed: stop timing and forget (a new collection starts from zero). */
  detach(): void {
    if (--this.users !== 0) return;
    this.hook.disable();
    if (runSegmentHook() === this.segment) setRunSegmentHook(null);
    this.cells.clear();
    this.own = 0;
    this.other = { ms: 0 };
    this.current = undefined;
    this.outer.length = 0;
  }

  /** Seconds by name (`other` last, when used). */
  snapshot(): [string, number][] {
    const out: [string, number][] = [];
    for (const [name, cell] of this.cells) if (cell !== this.other) out.push([name, cell.ms / 1000]);
    if (this.other.ms > 0) out.push([OTHER, this.other.ms / 1000]);
    return out;
  }
}

/** The one store of this thread (the hub has one segment hook). */
export const loopTime: LoopTime = new LoopTime();
