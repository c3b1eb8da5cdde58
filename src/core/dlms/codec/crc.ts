/**
 * CRC-16/X.25 — the HCS and FCS of IEC 62056-46 HDLC frames (clause 6.4.4.4.3 / ISO/IEC 13239 FCS-16).
 * Polynomial x^16 + x^12 + x^5 + 1 processed LSB-first (reflected 0x8408), init 0xFFFF, final XOR 0xFFFF.
 * On the wire the 16-bit value is sent low byte first. Check value: crc16x25("123456789") = 0x906E.
 */
const TABLE = (() => {
  const t = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1
    t[i] = c
  }
  return t
})()

export function crc16x25(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffff
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ data[i]!) & 0xff]!
  return (crc ^ 0xffff) & 0xffff
}
