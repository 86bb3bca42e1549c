/**
 * The one intrusive, doubly linked, head-only list: the nodes carry the links (`_prev`, `_next`),
 * the owner keeps only the first node, so membership costs no allocation and removal is O(1) — what
 * the hub needs for lists that change on every spawn and every wait: the hub's live greenlets, a
 * greenlet's parked waits, its armed Timeouts and its operations in flight.
 *
 * The functions take the current first node and return the new one; the owner stores it in its own
 * field (`this._timeouts = linkFirst(this._timeouts, timeout)`), so one object can own several
 * lists. A node belongs to at most one such list at a time. (The FIFO queues of primitives, which
 * also need a tail and a size, are `WaitList` in greenlet/waiter.ts.)
 */

/** A node of an intrusive list: its neighbours, both `null` while it is in no list. */
export interface ListNode<N> {
  _prev: N | null;
  _next: N | null;
}

/** Put `node` first in the list that starts at `first`; returns the new first node. */
export function linkFirst<N extends ListNode<N>>(first: N | null, node: N): N {
  node._next = first;
  if (first !== null) first._prev = node;
  return node;
}

/**
 * Take `node` out of the list that starts at `first`; returns the new first node. A node that is
 * not in the list (not linked, or linked no more) leaves it as it was.
 */
export function unlink<N extends ListNode<N>>(first: N | null, node: N): N | null {
  const prev = node._prev;
  const next = node._next;
  if (prev === null) {
    if (first !== node) return first;
    first = next;
  } else prev._next = next;
  if (next !== null) next._prev = prev;
  node._prev = node._next = null;
  return first;
}

/** The nodes from `first` on; the node just yielded may be unlinked meanwhile. */
export function* nodes<N extends ListNode<N>>(first: N | null): Generator<N, void, undefined> {
  for (let node = first; node !== null; ) {
    const next: N | null = node._next;
    yield node;
    node = next;
  }
}
