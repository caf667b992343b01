/**
 * Partition assignors. Each maps live members (with their subscriptions) and the subscribed
 * topics' partitions to a target assignment. Partitions are named `topic/partition` (topic names
 * cannot contain "/").
 */
export type AssignorName = 'range' | 'roundrobin' | 'cooperative-sticky';
export const ASSIGNORS: readonly AssignorName[] = ['range', 'roundrobin', 'cooperative-sticky'];

export interface AssignorInput {
  /** Member id → subscribed topics. */
  readonly members: Readonly<Record<string, readonly string[]>>;
  /** Topic → partition count (topics that do not exist are absent). */
  readonly partitions: Readonly<Record<string, number>>;
  /** The previous target, which cooperative-sticky keeps as much of as balance allows. */
  readonly previous: Readonly<Record<string, readonly string[]>>;
}

export type Assignment = Record<string, string[]>;

export function tp(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

export function parseTp(key: string): { topic: string; partition: number } {
  const slash = key.lastIndexOf('/');
  return { topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)) };
}

function sortedMembers(members: Readonly<Record<string, readonly string[]>>): string[] {
  return Object.keys(members).sort();
}

function empty(members: Readonly<Record<string, readonly string[]>>): Assignment {
  return Object.fromEntries(Object.keys(members).map((m) => [m, [] as string[]]));
}

/** Kafka's RangeAssignor: per topic, contiguous ranges; the first members get one extra. */
function range(input: AssignorInput): Assignment {
  const out = empty(input.members);
  const members = sortedMembers(input.members);
  for (const [topic, count] of Object.entries(input.partitions).sort()) {
    const subscribers = members.filter((m) => input.members[m]!.includes(topic));
    if (subscribers.length === 0) continue;
    const per = Math.floor(count / subscribers.length);
    const extra = count % subscribers.length;
    let next = 0;
    subscribers.forEach((m, i) => {
      const n = per + (i < extra ? 1 : 0);
      for (let k = 0; k < n; k++) out[m]!.push(tp(topic, next++));
    });
  }
  return out;
}

/** Kafka's RoundRobinAssignor: all partitions in order, dealt to subscribed members in turn. */
function roundrobin(input: AssignorInput): Assignment {
  const out = empty(input.members);
  const members = sortedMembers(input.members);
  let cursor = 0;
  for (const [topic, count] of Object.entries(input.partitions).sort()) {
    for (let p = 0; p < count; p++) {
      for (let tries = 0; tries < members.length; tries++) {
        const m = members[cursor++ % members.length]!;
        if (input.members[m]!.includes(topic)) {
          out[m]!.push(tp(topic, p));
          break;
        }
      }
    }
  }
  return out;
}

/**
 * Cooperative sticky: keep what each member had, take away only what unbalances the group, and
 * deal free partitions to the least-loaded subscribed member. With one subscription shared by all,
 * every member ends within one partition of the mean.
 */
function cooperativeSticky(input: AssignorInput): Assignment {
  const out = empty(input.members);
  const members = sortedMembers(input.members);
  const valid = new Set<string>();
  for (const [topic, count] of Object.entries(input.partitions))
    for (let p = 0; p < count; p++) valid.add(tp(topic, p));
  const subscribed = (m: string, key: string): boolean => input.members[m]!.includes(parseTp(key).topic);
  const taken = new Set<string>();
  for (const m of members) {
    for (const key of input.previous[m] ?? []) {
      if (valid.has(key) && subscribed(m, key) && !taken.has(key)) {
        out[m]!.push(key);
        taken.add(key);
      }
    }
  }
  const total = valid.size;
  const n = members.length;
  const floor = Math.floor(total / n);
  let ceilSlots = total % n; // how many members may hold floor + 1
  // Members already above floor keep floor + 1 while slots last (largest first), the rest shed down to floor.
  const free: string[] = [...valid].filter((k) => !taken.has(k));
  for (const m of [...members].sort((a, b) => out[b]!.length - out[a]!.length || (a < b ? -1 : 1))) {
    let quota = floor;
    if (out[m]!.length > floor && ceilSlots > 0) {
      quota = floor + 1;
      ceilSlots--;
    }
    while (out[m]!.length > quota) free.push(out[m]!.pop()!);
  }
  free.sort(comparePartitions);
  for (const key of free) {
    const candidates = members.filter((m) => subscribed(m, key));
    if (candidates.length === 0) continue;
    const least = candidates.reduce((a, b) => (out[b]!.length < out[a]!.length ? b : a));
    out[least]!.push(key);
  }
  for (const m of members) out[m]!.sort(comparePartitions);
  return out;
}

export function comparePartitions(a: string, b: string): number {
  const x = parseTp(a);
  const y = parseTp(b);
  return x.topic === y.topic ? x.partition - y.partition : x.topic < y.topic ? -1 : 1;
}

export function assign(assignor: AssignorName, input: AssignorInput): Assignment {
  if (Object.keys(input.members).length === 0) return {};
  switch (assignor) {
    case 'range':
      return range(input);
    case 'roundrobin':
      return roundrobin(input);
    case 'cooperative-sticky':
      return cooperativeSticky(input);
  }
}
