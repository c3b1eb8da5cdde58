/** Address formatting for the NetFlow codec (RFC 5952 text form for IPv6, as nfdump and `ip` print it). */

export function ipv4At(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`
}

export function ipv6At(b: Uint8Array, o: number): string {
  const g = new Array<number>(8)
  for (let i = 0; i < 8; i++) g[i] = (b[o + 2 * i] << 8) | b[o + 2 * i + 1]
  // IPv4-mapped ::ffff:a.b.c.d
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return `::ffff:${ipv4At(b, o + 12)}`
  // Longest run of ≥ 2 zero groups (first one on a tie) becomes "::".
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  if (bestStart < 0) return g.map(x => x.toString(16)).join(':')
  const head = g
    .slice(0, bestStart)
    .map(x => x.toString(16))
    .join(':')
  const tail = g
    .slice(bestStart + bestLen)
    .map(x => x.toString(16))
    .join(':')
  return `${head}::${tail}`
}
