/** Shared by the alerts commands: where the rules come from. */
import {Flags} from '@oclif/core'
import {loadRules, type RuleSet} from '../core/alerts/rules.js'
import {usageError} from '../core/errors.js'

export const rulesFlag = Flags.string({description: 'Rules file (YAML or JSON); default $NETMON_ALERT_RULES', helpValue: 'FILE'})

export function rulesFrom(flag: string | undefined, env = process.env): RuleSet {
  const path = flag ?? env.NETMON_ALERT_RULES
  if (!path) throw usageError('no rules file', 'give --rules FILE or set NETMON_ALERT_RULES (see docs/ALERTS.md)')
  return loadRules(path, {env})
}
