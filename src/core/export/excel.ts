/**
 * Formula-injection ("CSV injection") protection for `--excel-safe` (issue 9; OWASP "CSV
 * Injection"). A spreadsheet treats a cell that starts with `=`, `+`, `-` or `@` as a formula
 * (and TAB/CR as a way to smuggle one past a naive check), so a hostname such as
 * `=cmd|' /C calc'!A0` could run a command when the export is opened in Excel.
 *
 * The rule (docs/EXPORT.md): a TEXT field whose first character is one of
 *   =  +  -  @  TAB  CR  or their full-width forms ＝ ＋ － ＠  or an apostrophe '
 * gets one apostrophe `'` put in front of it. Spreadsheets show such a cell as text.
 * Apostrophe-led text is prefixed too, so the rule is exactly reversible: drop ONE leading `'`
 * from any text field that has one. Numbers, booleans and timestamps are never altered (a
 * negative number stays a number), because they are not text and cannot carry a formula.
 */
const TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20', "'"])

export function excelSafe(text: string): string {
  return text.length > 0 && TRIGGERS.has(text[0]!) ? "'" + text : text
}

/** The inverse of excelSafe, for consumers that want the stored text back. */
export function undoExcelSafe(text: string): string {
  return text.startsWith("'") ? text.slice(1) : text
}
