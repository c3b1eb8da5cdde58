/** "Did you mean": the closest known names to a mistyped command, topic or flag. */

/** Edit distance (Levenshtein). */
export function distance(a: string, b: string): number {
  const row = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]!
}

/**
 * Up to `max` names within a few edits of `typed` (a third of its length, at least 2), closest
 * first; a name that `typed` begins (`lim` → `limit`) counts as closest.
 */
export function closest(typed: string, names: readonly string[], max = 3): string[] {
  return [...new Set(names)]
    .map(c => ({c, d: c.startsWith(typed) ? 0 : distance(typed, c)}))
    .filter(x => x.d <= Math.max(2, Math.floor(typed.length / 3)))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, max)
    .map(x => x.c)
}
