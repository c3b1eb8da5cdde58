/**
 * Units, in one place (docs/CONVENTIONS.md): byte counts are integers; rates are bits per second;
 * Mbps = 10^6 bit/s (SI); sizes in MB are bytes / 2^20 (the seed's `total_mb`).
 */
export const MBPS = 1_000_000
export const KBPS = 1_000
export const MIB = 1_048_576

export const round = (x: number, digits = 3): number => {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

export const bpsToMbps = (bps: number): number => round(bps / MBPS, 6)
export const bpsToKbps = (bps: number): number => round(bps / KBPS, 3)
export const bytesToMb = (bytes: number): number => round(bytes / MIB, 3)

/** Human rate: 1.23 Mbit/s, 512 kbit/s, 80 bit/s. */
export function humanRate(bps: number): string {
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gbit/s`
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(1)} kbit/s`
  return `${Math.round(bps)} bit/s`
}

/** Human size in binary units: 600.0 MiB, 1.50 GiB. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = bytes
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 1 : 2)} ${units[i]}`
}

export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  if (d > 0) return `${d}d ${h}h`
  if (h > 0) return `${h}h ${m}m`
  if (m > 0) return `${m}m ${sec}s`
  return `${sec}s`
}
