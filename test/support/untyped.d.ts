// Test-only packages without type declarations.
declare module 'parse-prometheus-text-format' {
  export default function parse(text: string): Array<{name: string; help: string; type: string; metrics: any[]}>
}
