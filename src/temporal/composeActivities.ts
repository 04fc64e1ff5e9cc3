/*
 * Activities are registered by name on a worker, across every lifecycle. Spreading the
 * factories into one object would let a second activity of the same name silently replace
 * the first; composing through here makes that a start-up error naming both owners.
 */

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

export class DuplicateActivityError extends Error {
  override name = 'DuplicateActivityError';
}

/** One object of every group's activities; throws when two groups define the same activity name. */
export function composeActivities<G extends Record<string, object>>(groups: G): UnionToIntersection<G[keyof G]> {
  const out: Record<string, unknown> = {};
  const owner = new Map<string, string>();
  for (const [group, activities] of Object.entries(groups)) {
    for (const [name, fn] of Object.entries(activities)) {
      const first = owner.get(name);
      if (first !== undefined)
        throw new DuplicateActivityError(`activity "${name}" is defined by both ${first} and ${group}: activity names are global on a worker, so rename one of them`);
      owner.set(name, group);
      out[name] = fn;
    }
  }
  return out as UnionToIntersection<G[keyof G]>;
}
