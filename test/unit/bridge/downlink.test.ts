/**
 * The downlink's message shapes (src/core/bridge/downlink.ts), as ThingsBoard's MQTT transport sends
 * and expects them (gateway API: GatewaySessionHandler; device API: v1/devices/me/...).
 */
import {describe, expect, it} from 'vitest'
import {attributeRequestMessage, parseInbound, parsePollInterval, rpcReplyMessage, subscriptions} from '../../../src/core/bridge/downlink.js'
import {parseDuration} from '../../../src/core/format/time.js'

const gw = (topic: string, body: unknown) => parseInbound('thingsboard-gateway', topic, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)))
const dev = (topic: string, body: unknown) => parseInbound('thingsboard-device', topic, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)))

describe('ThingsBoard downlink messages', () => {
  it('subscriptions per format', () => {
    expect(subscriptions('thingsboard-gateway')).toEqual(['v1/gateway/rpc', 'v1/gateway/attributes', 'v1/gateway/attributes/response'])
    expect(subscriptions('thingsboard-device')).toEqual(['v1/devices/me/rpc/request/+', 'v1/devices/me/attributes', 'v1/devices/me/attributes/response/+'])
    expect(subscriptions('plain')).toEqual([])
  })

  it('gateway RPC: request read; our own reply echoed on the same topic ignored; params as JSON text; no method → answerable error', () => {
    expect(gw('v1/gateway/rpc', {device: 'Meter A', data: {id: 7, method: 'read', params: {obis: '1.0.1.8.0.255'}}})).toEqual({
      kind: 'rpc',
      device: 'Meter A',
      id: 7,
      method: 'read',
      params: {obis: '1.0.1.8.0.255'},
    })
    expect(gw('v1/gateway/rpc', {device: 'Meter A', id: 7, data: {success: true, method: 'read', result: {}}})).toEqual({
      kind: 'ignored',
      reason: 'an RPC reply',
    })
    expect(gw('v1/gateway/rpc', {device: 'A', data: {id: 8, method: 'read', params: '{"obis":"x"}'}})).toMatchObject({params: {obis: 'x'}})
    expect(gw('v1/gateway/rpc', {device: 'A', data: {id: 9, method: 'read', params: null}})).toMatchObject({params: {}})
    expect(gw('v1/gateway/rpc', {device: 'A', data: {id: 10}})).toEqual({kind: 'bad-rpc', device: 'A', id: 10, reason: 'the request names no method'})
    expect(gw('v1/gateway/rpc', {device: 'A', data: {method: 'read'}}).kind).toBe('ignored') // no id: nothing to answer to
    expect(gw('v1/gateway/rpc', 'not json').kind).toBe('ignored')
  })

  it('gateway attributes: shared update {device, data} with deletions; client-attribute publishes ignored; response value/values', () => {
    expect(gw('v1/gateway/attributes', {device: 'A', data: {poll_interval: 10, deleted: ['x']}})).toEqual({
      kind: 'attributes',
      device: 'A',
      values: {poll_interval: 10},
      deleted: ['x'],
    })
    expect(gw('v1/gateway/attributes', {A: {fw: '1.0'}}).kind).toBe('ignored')
    expect(gw('v1/gateway/attributes/response', {id: 3, device: 'A', value: 10})).toEqual({kind: 'attributes-response', device: 'A', id: 3, values: {'': 10}})
    expect(gw('v1/gateway/attributes/response', {id: 3, device: 'A', values: {poll_interval: 5}})).toMatchObject({values: {poll_interval: 5}})
  })

  it('device API: request id from the topic, flat attribute updates, shared attributes of a response', () => {
    expect(dev('v1/devices/me/rpc/request/42', {method: 'disconnect', params: {}})).toEqual({kind: 'rpc', id: 42, method: 'disconnect', params: {}})
    expect(dev('v1/devices/me/rpc/request/42', 'oops')).toEqual({kind: 'bad-rpc', id: 42, reason: 'the request is not a JSON object'})
    expect(dev('v1/devices/me/attributes', {poll_interval: '30s'})).toEqual({kind: 'attributes', values: {poll_interval: '30s'}, deleted: []})
    expect(dev('v1/devices/me/attributes', {deleted: ['poll_interval']})).toEqual({kind: 'attributes', values: {}, deleted: ['poll_interval']})
    expect(dev('v1/devices/me/attributes/response/5', {client: {a: 1}, shared: {poll_interval: 2}})).toEqual({
      kind: 'attributes-response',
      id: 5,
      values: {poll_interval: 2},
    })
  })

  it('replies and attribute requests', () => {
    const ok = {success: true as const, method: 'read', result: {values: {e: 1}}}
    expect(rpcReplyMessage('thingsboard-gateway', 'A', 7, ok)).toEqual({topic: 'v1/gateway/rpc', payload: JSON.stringify({device: 'A', id: 7, data: ok})})
    expect(rpcReplyMessage('thingsboard-device', undefined, 42, ok)).toEqual({topic: 'v1/devices/me/rpc/response/42', payload: JSON.stringify(ok)})
    expect(JSON.parse(attributeRequestMessage('thingsboard-gateway', 'A', 3).payload)).toEqual({id: 3, device: 'A', client: false, keys: ['poll_interval']})
    expect(attributeRequestMessage('thingsboard-device', 'A', 3)).toEqual({
      topic: 'v1/devices/me/attributes/request/3',
      payload: '{"sharedKeys":"poll_interval"}',
    })
  })

  it('poll_interval: seconds or duration text, 100 ms … 1 d', () => {
    expect(parsePollInterval(10, parseDuration)).toEqual({ms: 10_000})
    expect(parsePollInterval('1.5', parseDuration)).toEqual({ms: 1500})
    expect(parsePollInterval('2m', parseDuration)).toEqual({ms: 120_000})
    expect(parsePollInterval(0.01, parseDuration)).toHaveProperty('error')
    expect(parsePollInterval('soon', parseDuration)).toHaveProperty('error')
    expect(parsePollInterval(true, parseDuration)).toEqual({error: 'expected seconds or a duration text, got boolean'})
  })
})
