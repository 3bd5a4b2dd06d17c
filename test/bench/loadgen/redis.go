package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis model: one string key per seat, "seat:<id>", whose value is "free",
// "held:<hold>" or "sold:<hold>"; one hash per hold, "hold:<id>". The scripts
// get every key they touch in KEYS: KEYS[1] is the hold, KEYS[2..] its seats.

// holdScript checks every seat is free, then holds all of them and writes the
// hold record; on a conflict it changes nothing and returns the busy seats.
var holdScript = redis.NewScript(`
local busy = {}
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= 'free' then busy[#busy + 1] = KEYS[i] end
end
if #busy > 0 then return busy end
local v = 'held:' .. ARGV[1]
local seats = {}
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], v)
  seats[#seats + 1] = KEYS[i]
end
redis.call('HSET', KEYS[1], 'holder', ARGV[2], 'state', 'held',
  'expiresAt', ARGV[3], 'seats', table.concat(seats, ','))
return 1
`)

// confirmScript sells the seats of a held hold.
var confirmScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'sold' then return 1 end
if st ~= 'held' then return redis.error_reply('hold not held: ' .. tostring(st)) end
local v = 'sold:' .. ARGV[1]
for i = 2, #KEYS do redis.call('SET', KEYS[i], v) end
redis.call('HSET', KEYS[1], 'state', 'sold', 'orderId', ARGV[2])
return 1
`)

// releaseScript frees the seats of a held hold.
var releaseScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'released' then return 1 end
if st ~= 'held' then return redis.error_reply('hold not held: ' .. tostring(st)) end
for i = 2, #KEYS do redis.call('SET', KEYS[i], 'free') end
redis.call('HSET', KEYS[1], 'state', 'released')
return 1
`)

type redisBackend struct {
	c *redis.Client
	// wait > 0: WAIT wait 0 after every write script (Redis's synchronous
	// replication: the answer waits until that many replicas have the write).
	wait int
}

// sync waits for the replicas (when configured) after a write.
func (b *redisBackend) sync(ctx context.Context, err error) error {
	if err != nil || b.wait == 0 {
		return err
	}
	n, err := b.c.Wait(ctx, b.wait, 0).Result()
	if err == nil && n < int64(b.wait) {
		err = fmt.Errorf("WAIT %d 0: %d replicas acknowledged", b.wait, n)
	}
	return err
}

func newRedisBackend(addr string, conns int) *redisBackend {
	return &redisBackend{c: redis.NewClient(&redis.Options{
		Addr:         addr,
		PoolSize:     conns + 8,
		MinIdleConns: conns,
		Protocol:     2,
	})}
}

func holdKeys(id string, seats []string) []string {
	keys := make([]string, 0, len(seats)+1)
	keys = append(keys, "hold:"+id)
	for _, s := range seats {
		keys = append(keys, "seat:"+s)
	}
	return keys
}

func (b *redisBackend) Hold(ctx context.Context, ref string, seats []string) (string, bool, error) {
	exp := fmt.Sprint(nowUnix() + 600)
	res, err := holdScript.Run(ctx, b.c, holdKeys(ref, seats), ref, ref, exp).Result()
	if err != nil {
		return "", false, err
	}
	if _, busy := res.([]any); !busy {
		if err := b.sync(ctx, nil); err != nil {
			return "", false, err
		}
	}
	switch v := res.(type) {
	case int64:
		return ref, false, nil
	case []any:
		return "", true, nil
	default:
		return "", false, fmt.Errorf("hold script answered %T %v", v, v)
	}
}

func (b *redisBackend) Confirm(ctx context.Context, id string, seats []string, orderID string) error {
	return b.sync(ctx, confirmScript.Run(ctx, b.c, holdKeys(id, seats), id, orderID).Err())
}

func (b *redisBackend) Release(ctx context.Context, id string, seats []string) error {
	return b.sync(ctx, releaseScript.Run(ctx, b.c, holdKeys(id, seats), id).Err())
}

func (b *redisBackend) Close() { b.c.Close() }

// prepRedis empties the database, writes every seat as free and loads the
// scripts (so the run uses EVALSHA from the first call).
func prepRedis(ctx context.Context, addr string, ids []string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	defer c.Close()
	if err := c.FlushAll(ctx).Err(); err != nil {
		return err
	}
	const chunk = 1000
	pipe := c.Pipeline()
	for i := 0; i < len(ids); i += chunk {
		kv := make([]any, 0, 2*chunk)
		for _, id := range ids[i:min(i+chunk, len(ids))] {
			kv = append(kv, "seat:"+id, "free")
		}
		pipe.MSet(ctx, kv...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	n, err := c.DBSize(ctx).Result()
	if err != nil {
		return err
	}
	if int(n) != len(ids) {
		return fmt.Errorf("redis holds %d keys after load, want %d", n, len(ids))
	}
	for _, s := range []*redis.Script{holdScript, confirmScript, releaseScript} {
		if err := s.Load(ctx, c).Err(); err != nil {
			return err
		}
	}
	// The settings the comparison depends on, checked rather than assumed.
	for k, want := range map[string]string{"appendonly": "yes", "appendfsync": "always"} {
		got, err := c.ConfigGet(ctx, k).Result()
		if err != nil {
			return err
		}
		if !strings.EqualFold(got[k], want) {
			return fmt.Errorf("redis %s is %q, want %q", k, got[k], want)
		}
	}
	return nil
}

// SlowFsyncs is Redis's own account of its slow fsyncs over a run's measured
// window, from its latency monitor (LATENCY HISTORY aof-fsync-always, with
// latency-monitor-threshold at SlowFsyncMs): the monitor keeps, per second,
// the longest fsync at or over the threshold, so Seconds counts the seconds
// of the window that had one and MaxMs is the longest.
type SlowFsyncs struct {
	ThresholdMs int     `json:"thresholdMs"`
	Seconds     int     `json:"seconds"`
	MaxMs       float64 `json:"maxMs"`
}

// SlowFsyncMs is the latency monitor's threshold set for a run.
const SlowFsyncMs = 5

// watchFsyncs turns Redis's latency monitor on (threshold SlowFsyncMs) and
// empties its history, so that slowFsyncs sees this run's fsyncs only.
func (b *redisBackend) watchFsyncs(ctx context.Context) error {
	if err := b.c.ConfigSet(ctx, "latency-monitor-threshold", fmt.Sprint(SlowFsyncMs)).Err(); err != nil {
		return fmt.Errorf("CONFIG SET latency-monitor-threshold: %w", err)
	}
	if err := b.c.Do(ctx, "LATENCY", "RESET").Err(); err != nil {
		return fmt.Errorf("LATENCY RESET: %w", err)
	}
	return nil
}

// slowFsyncs reads the monitor's aof-fsync-always history and keeps the
// whole seconds of the window [from, to].
func (b *redisBackend) slowFsyncs(ctx context.Context, from, to time.Time) (*SlowFsyncs, error) {
	v, err := b.c.Do(ctx, "LATENCY", "HISTORY", "aof-fsync-always").Slice()
	if err != nil {
		return nil, fmt.Errorf("LATENCY HISTORY aof-fsync-always: %w", err)
	}
	first := from.Unix()
	if from.After(time.Unix(first, 0)) {
		first++
	}
	return countSlowFsyncs(v, first, to.Unix()-1)
}

// countSlowFsyncs sums up LATENCY HISTORY's answer (pairs of unix second and
// the longest latency in ms that second) over the seconds first to last.
func countSlowFsyncs(hist []any, first, last int64) (*SlowFsyncs, error) {
	s := &SlowFsyncs{ThresholdMs: SlowFsyncMs}
	for _, e := range hist {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("LATENCY HISTORY: unexpected entry %v", e)
		}
		ts, ok1 := pair[0].(int64)
		ms, ok2 := pair[1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("LATENCY HISTORY: unexpected entry %v", e)
		}
		if ts < first || ts > last {
			continue
		}
		s.Seconds++
		s.MaxMs = max(s.MaxMs, float64(ms))
	}
	return s, nil
}
