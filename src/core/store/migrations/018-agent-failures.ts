import type {Migration} from '../migrate.js'

/**
 * Consecutive failed runs per agent job (issue 16, the `source_failing` alert kind), owned by
 * src/core/agent/repo.ts like the rest of agent_jobs: +1 on each run (or collector tick) whose
 * outcome is `error` and on a start that failed, back to 0 on any other outcome. Rows written
 * before this migration start at 0.
 */
export const agentFailures: Migration = {
  version: 18,
  name: 'agent-failures',
  statements: [`ALTER TABLE agent_jobs ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0`],
}
