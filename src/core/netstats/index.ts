/**
 * Interface counters for the bridge's self-metrics (the seed's NetworkMonitor, issue 8): a sampler
 * that reads the kernel's interface byte/packet counters every second and keeps a ring of the last
 * 300 rates. On Linux the counters come from /proc/net/dev (microseconds, no child processes);
 * elsewhere from systeminformation, loaded lazily (its networkStats() spawns helpers and costs
 * ~160 ms per call, shared/FACTS.md).
 */
export {procNetDevCounters, ifCountersOf, counterDelta, type IfCounters} from './counters.js'
export {RateRing, type RateSample, type IssueCounts} from './ring.js'
export {NetSampler, type NetSamplerOptions, type CounterSource} from './sampler.js'
