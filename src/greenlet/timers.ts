/**
 * The hub's timers: one native timer over a heap of deadlines (libev's timer heap, which gevent's
 * `Timeout` sits on).
 *
 * Why: a `Timeout` is usually started and cancelled long before it is due (`withTimeout` around a
 * call that returns in time). A Node timer per Timeout costs its creation, its insertion into
 * Node's timer lists and its removal — more than everything else `Timeout.start()` + `cancel()`
 * does. Here starting is a push onto a binary heap and cancelling a removal from it (O(1) for the
 * most recent deadline, the common case), and Node sees a single timer armed for the earliest
 * deadline.
 *
 * Guarantees:
 * - The native timer is ref'd exactly while a deadline is scheduled, so a scheduled deadline keeps
 *   the process alive as its own `setTimeout` did, and a cancelled one does not (`LoopExit` and
 *   `beforeExit` see the same loop as before).
 * - A deadline never fires before its time on the monotonic clock (`performance.now()`); deadlines
 *   due at the same time fire in the order they were scheduled.
 * - The native timer is re-armed only when a new deadline is earlier than the one it is armed
 *   for. After a cancel it stays armed for the old time: when it fires early it re-arms for the
 *   earliest deadline (one wasted wake-up instead of a clear and a set per cancel).
 * - A deadline that comes due while greenlet starts or `sleep(0)` resumptions are queued fires
 *   right after them, in the same loop iteration (gevent's hub runs its callbacks before its
 *   timers): late, never early.
 * - Callbacks run outside any greenlet's async context (the native timer is armed outside it):
 *   a callback that needs a context enters it itself (see timeout.ts).
 * - Delays beyond Node's 2^31-1 ms limit are honoured: the native timer wakes at that limit and
 *   re-arms.
 */
import { MAX_TIMER_MS, nativeClearTimeout, nativeSetTimeout, now } from '../internal/natives.js';
import { getHub, runOutside } from './hub.js';

/** Something the timer heap can hold: its fields are the heap's, its `_expire` is called when due. */
export interface Deadline {
  /** @internal when it is due, on the `performance.now()` clock */
  _dueAt: number;
  /** @internal scheduling order, breaks ties between equal `_dueAt` */
  _seq: number;
  /** @internal position in the heap, -1 when not scheduled */
  _slot: number;
  /** @internal called (outside any greenlet's context) when the deadline is due */
  _expire(): void;
}

const heap: Deadline[] = [];
let seq = 0;
let native: ReturnType<typeof setTimeout> | undefined;
/** When the native timer fires; Infinity when it is not armed. */
let armedFor = Number.POSITIVE_INFINITY;
let refd = false;

/** Schedule `deadline` to expire `ms` from now. It must not be scheduled already. */
export function schedule(deadline: Deadline, ms: number): void {
  const dueAt = now() + ms;
  deadline._dueAt = dueAt;
  deadline._seq = seq++;
  const slot = heap.length;
  heap.push(deadline);
  deadline._slot = slot;
  if (slot > 0) siftUp(slot);
  if (dueAt < armedFor || native === undefined) arm(dueAt);
  else if (!refd) {
    refd = true;
    native!.ref();
  }
}

/** Remove `deadline` from the heap; nothing happens if it is not scheduled. */
export function unschedule(deadline: Deadline): void {
  const slot = deadline._slot;
  if (slot < 0) return;
  deadline._slot = -1;
  const last = heap.pop()!;
  if (last !== deadline) {
    place(last, slot);
    if (slot > 0 && before(last, heap[(slot - 1) >> 1]!)) siftUp(slot);
    else siftDown(slot);
  }
  if (heap.length === 0 && refd) {
    refd = false;
    native!.unref();
  }
}

/** True when `deadline` is scheduled and has not expired. */
export function isScheduled(deadline: Deadline): boolean {
  return deadline._slot >= 0;
}

/** How many deadlines are scheduled (for tests and run info). */
export function scheduledCount(): number {
  return heap.length;
}

function arm(dueAt: number): void {
  if (native !== undefined) nativeClearTimeout(native);
  armedFor = dueAt;
  refd = true;
  const ms = Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(dueAt - now())));
  runOutside(armOutside, ms, undefined);
}

function armOutside(ms: number): void {
  native = nativeSetTimeout(onNativeTimer, ms);
}

/**
 * The native timer fired: expire every deadline that is due, then re-arm for the next one — after
 * the greenlet starts already queued, if any (see `Hub._afterQueued`).
 */
function onNativeTimer(): void {
  native = undefined;
  armedFor = Number.POSITIVE_INFINITY;
  refd = false;
  getHub()._afterQueued(expireDue, undefined);
}

function expireDue(): void {
  try {
    const t = now();
    while (heap.length > 0 && heap[0]!._dueAt <= t) {
      const due = heap[0]!;
      unschedule(due);
      due._expire();
    }
  } finally {
    if (heap.length > 0) arm(heap[0]!._dueAt);
  }
}

function before(a: Deadline, b: Deadline): boolean {
  return a._dueAt < b._dueAt || (a._dueAt === b._dueAt && a._seq < b._seq);
}

function siftUp(slot: number): void {
  const item = heap[slot]!;
  while (slot > 0) {
    const parentSlot = (slot - 1) >> 1;
    const parent = heap[parentSlot]!;
    if (!before(item, parent)) break;
    place(parent, slot);
    slot = parentSlot;
  }
  place(item, slot);
}

function siftDown(slot: number): void {
  const item = heap[slot]!;
  const n = heap.length;
  for (;;) {
    const left = 2 * slot + 1;
    if (left >= n) break;
    const right = left + 1;
    const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
    const next = heap[child]!;
    if (!before(next, item)) break;
    place(next, slot);
    slot = child;
  }
  place(item, slot);
}

function place(deadline: Deadline, slot: number): void {
  heap[slot] = deadline;
  deadline._slot = slot;
}
