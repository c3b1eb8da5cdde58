import type {z} from 'zod'
import {invalidInput} from './errors.js'

/**
 * Validates with a zod schema and turns the first problem into one clear line naming the path
 * (`meters[3].port: expected 1-65535`). Every command validates its input through this.
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what = ''): z.infer<S> {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const issue = r.error.issues[0]!
  const path = formatPath(issue.path as PropertyKey[])
  const where = [what, path].filter(Boolean).join(' ')
  throw invalidInput(where ? `${where}: ${issue.message}` : issue.message)
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else out += out ? `.${String(p)}` : String(p)
  }
  return out
}
