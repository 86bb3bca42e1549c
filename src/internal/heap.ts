/**
 * A binary min-heap ordered by `compare`, FIFO among equal items (an insertion sequence breaks
 * ties), so a PriorityQueue never reorders items of the same priority.
 */
export class Heap<T> {
  private readonly items: T[] = [];
  private readonly seqs: number[] = [];
  private seq = 0;

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    const seqs = this.seqs;
    let i = items.length;
    items.push(item);
    seqs.push(this.seq++);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  shift(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const lastItem = items.pop() as T;
    const lastSeq = this.seqs.pop() as number;
    if (items.length > 0) {
      items[0] = lastItem;
      this.seqs[0] = lastSeq;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.less(left, smallest)) smallest = left;
        if (right < items.length && this.less(right, smallest)) smallest = right;
        if (smallest === i) break;
        this.swap(i, smallest);
        i = smallest;
      }
    }
    return top;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  drain(): T[] {
    const out: T[] = [];
    while (this.items.length > 0) out.push(this.shift() as T);
    return out;
  }

  private less(i: number, j: number): boolean {
    const c = this.compare(this.items[i] as T, this.items[j] as T);
    return c < 0 || (c === 0 && (this.seqs[i] as number) < (this.seqs[j] as number));
  }

  private swap(i: number, j: number): void {
    const items = this.items;
    const seqs = this.seqs;
    const item = items[i] as T;
    items[i] = items[j] as T;
    items[j] = item;
    const seq = seqs[i] as number;
    seqs[i] = seqs[j] as number;
    seqs[j] = seq;
  }
}

/**
 * Natural order for numbers, strings and bigints; arrays compare element by element, like Python
 * tuples, so `[priority, item]` pairs work as in gevent.
 */
export function naturalOrder(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const c = naturalOrder(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}
