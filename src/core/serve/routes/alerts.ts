/**
 * Alerts (issue 16): GET /api/alerts = `netmon alerts list`, POST /api/alerts/{id}/ack =
 * `netmon alerts ack ID` (the same core functions, alerts/queries.ts, so the same JSON). The
 * evaluation itself is not a route: `alerts check` (cron) or the agent's alerts job does it.
 * The ack is a write like the other POSTs: a bearer token when the server has one; without one
 * (loopback only) the browser-origin check of app.ts applies.
 */
import {z} from 'zod'
import {ackAlert, listAlerts, STATES} from '../../alerts/queries.js'
import {body, isoTime, query, queryInt, queryTime, route, type RouteDef} from '../route.js'

const int = z.number().int()

export const alertSchema = z.object({
  id: int,
  rule: z.string(),
  kind: z.string(),
  subject: z.string(),
  severity: z.enum(['info', 'warning', 'critical']),
  state: z.enum(STATES),
  labels: z.record(z.string(), z.string()),
  value: z.string(),
  values: z.record(z.string(), z.unknown()),
  message: z.string(),
  started_at: isoTime,
  started_at_ms: int,
  fired_at_ms: int.nullable(),
  resolved_at_ms: int.nullable(),
  updated_at_ms: int,
  acked: z.boolean(),
  acked_at_ms: int.nullable(),
  ack_comment: z.string().nullable(),
})

export const alertListSchema = z.object({alerts: z.array(alertSchema)})

export function alertRoutes(): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/api/alerts',
      operationId: 'listAlerts',
      summary: 'Alert instances, newest first, optionally by state (pending, firing, resolved)',
      description: "The alerts the last evaluation (`netmon alerts check` or the agent's alerts job) stored; silenced alerts are listed too.",
      capability: 'alerts',
      cli: 'netmon alerts list [--state] [--since] [--subject] [--limit]',
      query: query({
        state: z
          .enum(STATES, {message: `expected one of ${STATES.join(', ')}`})
          .optional()
          .meta({description: 'Only alerts in this state'}),
        since: queryTime('Only alerts updated since').optional(),
        subject: z
          .string()
          .min(1)
          .optional()
          .meta({description: 'Only alerts of these subjects (comma-separated: a MAC, an IP, a meter id, bridge, a job name)'}),
        limit: queryInt(1, 10_000, 'At most this many (default 1000)').optional(),
      }),
      response: alertListSchema,
      run: async ({store}, {query}) => ({
        alerts: await listAlerts(store, {state: query.state, since: query.since, limit: query.limit ?? 1000, subjects: query.subject?.split(',')}),
      }),
    }),
    route({
      method: 'POST',
      path: '/api/alerts/{id}/ack',
      operationId: 'ackAlert',
      summary: 'Acknowledge an alert: no repeat notifications while it fires (the resolution is still sent)',
      capability: 'alerts',
      cli: 'netmon alerts ack ID [--comment]',
      params: z.strictObject({
        id: z
          .string()
          .trim()
          .regex(/^[1-9]\d{0,15}$/, {message: 'expected an alert id (a positive whole number, see GET /api/alerts)'})
          .transform(Number)
          .meta({description: 'The alert id (GET /api/alerts)', example: '12'}),
      }),
      body: body({comment: z.string().max(1000).optional().meta({description: 'Why, for the history (alerts show)'})}),
      response: alertSchema,
      run: async ({store}, {params, body}) => ackAlert(store, params.id, body.comment),
    }),
  ]
}
