/**
 * /openapi.json: an OpenAPI 3.1 document generated from the same zod schemas that validate the
 * requests (issue 10), so the description cannot drift from what the server accepts.
 * zod 4's z.toJSONSchema emits JSON Schema 2020-12, which is what OpenAPI 3.1 uses.
 */
import {z} from 'zod'
import type {RouteDef} from './route.js'

const errorSchema = z.object({
  error: z.object({
    code: z.string().meta({example: 'INVALID_INPUT'}),
    message: z.string(),
    hint: z.string().optional(),
  }),
})

function schemaOf(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const j = z.toJSONSchema(s, {io, unrepresentable: 'any', target: 'draft-2020-12'}) as Record<string, unknown>
  delete j.$schema
  return j
}

/** A query/path object schema → OpenAPI parameters (one per property). */
function parameters(s: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (!s) return []
  const j = schemaOf(s, 'input') as {properties?: Record<string, Record<string, unknown>>; required?: string[]}
  return Object.entries(j.properties ?? {}).map(([name, prop]) => {
    const {description, example, ...schema} = prop
    return {
      name,
      in: where,
      required: where === 'path' || (j.required ?? []).includes(name),
      ...(description ? {description} : {}),
      ...(example !== undefined ? {example} : {}),
      schema,
    }
  })
}

const errorResponse = (description: string) => ({description, content: {'application/json': {schema: {$ref: '#/components/schemas/Error'}}}})

export function buildOpenApi(routes: readonly RouteDef[], opts: {version: string; auth: boolean}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      description: [r.description, `Same JSON as \`${r.cli} --json\`.`].filter(Boolean).join('\n\n'),
      tags: [r.capability],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body ? {requestBody: {required: true, content: {'application/json': {schema: schemaOf(r.body, 'input')}}}} : {}),
      responses: {
        ...(r.statusOf && (r.status ?? 200) !== 200
          ? {'200': {description: 'Success (finished)', content: {'application/json': {schema: schemaOf(r.response, 'output')}}}}
          : {}),
        [String(r.status ?? 200)]: {
          description: r.statusOf ? 'Success (accepted)' : 'Success',
          content: {'application/json': {schema: schemaOf(r.response, 'output')}},
        },
        '400': errorResponse('Invalid input (nothing was written)'),
        '401': errorResponse('Missing or wrong bearer token (only when the server has one)'),
        '404': errorResponse('The named device, meter or host is not in the store'),
        '500': errorResponse('Store or internal failure'),
        '501': errorResponse('The capability is not part of this build'),
      },
      'x-netmon-cli': r.cli,
    }
    ;(paths[r.path] ??= {})[r.method.toLowerCase()] = op
  }
  paths['/healthz'] = {
    get: {
      operationId: 'healthz',
      summary: 'Liveness probe (never requires a token)',
      security: [],
      tags: ['server'],
      responses: {
        '200': {
          description: 'The server is up',
          content: {
            'application/json': {schema: schemaOf(z.object({status: z.literal('ok'), version: z.string().nullable(), uptime_seconds: z.number()}), 'output')},
          },
        },
      },
    },
  }
  paths['/metrics'] = {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus text exposition (format 0.0.4): device byte counters, current rates, latency summaries, bridge counters, outbox depth',
      tags: ['server'],
      responses: {'200': {description: 'Metrics', content: {'text/plain': {schema: {type: 'string'}}}}, '401': errorResponse('Missing or wrong bearer token')},
    },
  }
  paths['/api/server'] = {
    get: {
      operationId: 'serverInfo',
      summary: 'Version, whether a token is required, and which capabilities this build serves (routes of the others answer 501)',
      tags: ['server'],
      responses: {
        '200': {
          description: 'Server info',
          content: {
            'application/json': {
              schema: schemaOf(
                z.object({
                  version: z.string().nullable(),
                  started: z.string(),
                  started_ms: z.number().int(),
                  auth: z.boolean(),
                  capabilities: z.record(z.string(), z.boolean()),
                  routes: z.array(z.object({method: z.string(), path: z.string(), cli: z.string(), ready: z.boolean()})),
                }),
                'output',
              ),
            },
          },
        },
      },
    },
  }
  paths['/openapi.json'] = {
    get: {
      operationId: 'openapi',
      summary: 'This document',
      tags: ['server'],
      responses: {'200': {description: 'OpenAPI 3.1 document', content: {'application/json': {schema: {type: 'object'}}}}},
    },
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'netmon',
      version: opts.version,
      description:
        'The REST API of `netmon serve`: the same JSON as the CLI\'s `--json`, read from and written to the same store. Errors are {"error":{"code","message","hint"?}}.',
    },
    servers: [{url: '/'}],
    ...(opts.auth ? {security: [{bearer: []}]} : {}),
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'The token from `netmon serve --token-env VAR`; required on every route except /healthz when the server has one',
        },
      },
      schemas: {Error: schemaOf(errorSchema, 'output')},
    },
    paths,
  }
}
