import type {Migration} from '../migrate.js'

/**
 * Alerts (issue 16, docs/ALERTS.md), owned by src/core/alerts/. Times are epoch ms.
 *
 * - alerts: one row per alert instance (rule + subject); at most one open (pending/firing) row per
 *   rule + subject (partial unique index); a resolved instance is history, a new one is a new row.
 * - alert_events: every transition (pending, firing, repeat, event, resolved, cleared) plus acks
 *   and silenced notifications, with the values that triggered it.
 * - alert_rule_state: per rule, the event cursor (event kinds) and the last evaluation; the
 *   cursor moves in the same transaction as the alerts it produced, so across runs no event is
 *   missed or alerted twice.
 * - silences: a rule name and/or label matchers, active from starts_at until ends_at.
 * - alert_outbox: notifications not yet delivered, per channel in id order; `dead` after the
 *   channel's max_attempts (kept for inspection, no longer blocks the channel).
 */
export const alerts: Migration = {
  version: 11,
  name: 'alerts',
  statements: [
    `CREATE TABLE alerts (
      id               INTEGER PRIMARY KEY,
      rule             TEXT NOT NULL,
      kind             TEXT NOT NULL,
      subject          TEXT NOT NULL,           -- MAC, address, target … (what the rule is about)
      severity         TEXT NOT NULL,
      state            TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
      labels           TEXT NOT NULL,           -- JSON {name: value}
      value            TEXT NOT NULL,           -- human text of the latest value
      "values"         TEXT NOT NULL,           -- JSON: the numbers behind it
      vars             TEXT NOT NULL,           -- JSON: template variables (device.name …)
      message          TEXT NOT NULL,
      started_at       INTEGER NOT NULL,        -- became pending
      fired_at         INTEGER,
      resolved_at      INTEGER,
      last_active_at   INTEGER NOT NULL,
      clear_since      INTEGER,
      last_notified_at INTEGER,
      acked_at         INTEGER,
      ack_comment      TEXT,
      updated_at       INTEGER NOT NULL
    )`,
    `CREATE UNIQUE INDEX alerts_open ON alerts(rule, subject) WHERE state IN ('pending', 'firing')`,
    `CREATE INDEX alerts_state_updated ON alerts(state, updated_at)`,
    `CREATE TABLE alert_events (
      id         INTEGER PRIMARY KEY,
      alert_id   INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
      ts         INTEGER NOT NULL,
      kind       TEXT NOT NULL,               -- pending | firing | repeat | event | resolved | cleared | ack
      from_state TEXT,
      to_state   TEXT,
      value      TEXT,
      "values"   TEXT,                        -- JSON
      notified   INTEGER NOT NULL DEFAULT 0,  -- 1: queued for the rule's channels
      silenced   INTEGER NOT NULL DEFAULT 0,  -- 1: a notification a silence suppressed
      note       TEXT
    )`,
    `CREATE INDEX alert_events_alert ON alert_events(alert_id, id)`,
    `CREATE TABLE alert_rule_state (
      rule         TEXT PRIMARY KEY,
      kind         TEXT NOT NULL,
      cursor       INTEGER,                     -- event kinds: last event/device id handled
      last_eval_at INTEGER,
      last_result  TEXT                         -- JSON {observations, transitions, note}
    )`,
    `CREATE TABLE silences (
      id         INTEGER PRIMARY KEY,
      rule       TEXT,
      matchers   TEXT NOT NULL,               -- JSON {key: value}
      starts_at  INTEGER NOT NULL,
      ends_at    INTEGER NOT NULL,
      comment    TEXT,
      created_at INTEGER NOT NULL
    )`,
    // AUTOINCREMENT: ids are never reused after delivered rows are deleted, so a receiver can
    // de-duplicate by X-Netmon-Delivery.
    `CREATE TABLE alert_outbox (
      id         INTEGER PRIMARY KEY AUTOINCREMENT,
      channel    TEXT NOT NULL,
      payload    TEXT NOT NULL,               -- JSON body (docs/ALERTS.md)
      created_at INTEGER NOT NULL,
      attempts   INTEGER NOT NULL DEFAULT 0,
      next_at    INTEGER NOT NULL,
      state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
      last_error TEXT
    )`,
    `CREATE INDEX alert_outbox_channel ON alert_outbox(channel, state, id)`,
  ],
}
