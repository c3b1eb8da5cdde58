/**
 * The COSEM unit enumeration (Blue Book 4.3.2, table "Enumerated values for physical units") used in the
 * scaler_unit attribute of registers: value = raw × 10^scaler, in `unit`. kWh is Wh with scaler 3.
 */
export interface UnitInfo {
  code: number
  symbol: string
  quantity: string
}

const TABLE: Array<[number, string, string]> = [
  [1, 'a', 'time (year)'],
  [2, 'mo', 'time (month)'],
  [3, 'wk', 'time (week)'],
  [4, 'd', 'time (day)'],
  [5, 'h', 'time (hour)'],
  [6, 'min', 'time (minute)'],
  [7, 's', 'time (second)'],
  [8, '°', 'phase angle'],
  [9, '°C', 'temperature'],
  [10, 'currency', 'local currency'],
  [11, 'm', 'length'],
  [12, 'm/s', 'speed'],
  [13, 'm³', 'volume'],
  [14, 'm³', 'corrected volume'],
  [15, 'm³/h', 'volume flux'],
  [16, 'm³/h', 'corrected volume flux'],
  [17, 'm³/d', 'volume flux'],
  [18, 'm³/d', 'corrected volume flux'],
  [19, 'l', 'volume'],
  [20, 'kg', 'mass'],
  [21, 'N', 'force'],
  [22, 'Nm', 'energy'],
  [23, 'Pa', 'pressure'],
  [24, 'bar', 'pressure'],
  [25, 'J', 'energy'],
  [26, 'J/h', 'thermal power'],
  [27, 'W', 'active power'],
  [28, 'VA', 'apparent power'],
  [29, 'var', 'reactive power'],
  [30, 'Wh', 'active energy'],
  [31, 'VAh', 'apparent energy'],
  [32, 'varh', 'reactive energy'],
  [33, 'A', 'current'],
  [34, 'C', 'electrical charge'],
  [35, 'V', 'voltage'],
  [36, 'V/m', 'electric field strength'],
  [37, 'F', 'capacitance'],
  [38, 'Ω', 'resistance'],
  [39, 'Ωm²/m', 'resistivity'],
  [40, 'Wb', 'magnetic flux'],
  [41, 'T', 'magnetic flux density'],
  [42, 'A/m', 'magnetic field strength'],
  [43, 'H', 'inductance'],
  [44, 'Hz', 'frequency'],
  [45, '1/(Wh)', 'active energy meter constant'],
  [46, '1/(varh)', 'reactive energy meter constant'],
  [47, '1/(VAh)', 'apparent energy meter constant'],
  [48, 'V²h', 'volt-squared hours'],
  [49, 'A²h', 'ampere-squared hours'],
  [50, 'kg/s', 'mass flux'],
  [51, 'S', 'conductance'],
  [52, 'K', 'temperature'],
  [53, '1/(V²h)', 'volt-squared hour meter constant'],
  [54, '1/(A²h)', 'ampere-squared hour meter constant'],
  [55, '1/m³', 'volume meter constant'],
  [56, '%', 'percentage'],
  [57, 'Ah', 'ampere-hours'],
  [60, 'Wh/m³', 'energy per volume'],
  [61, 'J/m³', 'calorific value'],
  [62, 'Mol %', 'molar fraction'],
  [63, 'g/m³', 'mass density'],
  [64, 'Pa s', 'dynamic viscosity'],
  [65, 'J/kg', 'specific energy'],
  [66, 'g/cm²', 'pressure'],
  [67, 'atm', 'pressure'],
  [70, 'dBm', 'signal strength'],
  [71, 'dBµV', 'signal strength'],
  [72, 'dB', 'logarithmic unit'],
  [253, '', 'reserved'],
  [254, 'other', 'other unit'],
  [255, '', 'no unit (count)'],
]

const BY_CODE = new Map<number, UnitInfo>(TABLE.map(([code, symbol, quantity]) => [code, {code, symbol, quantity}]))

export function unitInfo(code: number): UnitInfo {
  return BY_CODE.get(code) ?? {code, symbol: `unit(${code})`, quantity: 'unknown unit'}
}

/** The symbol printed after a value ("Wh", "V"…); empty for "no unit". */
export function unitSymbol(code: number): string {
  return unitInfo(code).symbol
}

export function unitCodeOf(symbol: string): number | undefined {
  for (const [code, sym] of TABLE) if (sym === symbol && sym !== '') return code
  return undefined
}

/**
 * raw × 10^scaler without binary floating-point noise for the usual case: dividing by an exact power of
 * ten gives 2301 × 10^-1 = 230.1 (a multiplication by 0.1 would give 230.10000000000002).
 */
export function applyScaler(raw: number | bigint, scaler: number): number {
  const v = typeof raw === 'bigint' ? Number(raw) : raw
  if (scaler === 0) return v
  return scaler < 0 ? v / 10 ** -scaler : v * 10 ** scaler
}

const PREFIXES: Array<[number, string]> = [
  [9, 'G'],
  [6, 'M'],
  [3, 'k'],
]

/**
 * Human text for a scaled quantity: "12.345678 MWh" style only when asked; by default "12345678 Wh".
 * `prefix: true` picks k/M/G for units where that is usual (W, Wh, var, varh, VA, VAh).
 */
export function formatQuantity(value: number, unitCode: number, opts: {prefix?: boolean; maxDecimals?: number} = {}): string {
  const sym = unitSymbol(unitCode)
  let v = value
  let prefix = ''
  if (opts.prefix && ['W', 'Wh', 'var', 'varh', 'VA', 'VAh'].includes(sym)) {
    for (const [exp, p] of PREFIXES)
      if (Math.abs(value) >= 10 ** exp) {
        v = value / 10 ** exp
        prefix = p
        break
      }
  }
  const text = opts.maxDecimals === undefined ? String(v) : String(Number(v.toFixed(opts.maxDecimals)))
  return sym === '' ? text : `${text} ${prefix}${sym}`
}
