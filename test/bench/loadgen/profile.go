package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"time"
)

// profileShard takes a CPU profile of the shard at pprofAddr (its
// --pprof-listen) for the measured window, dur, and writes it to path; the
// returned channel gets the outcome once the profile is written. bench.sh
// (BENCH_PROFILE=DIR) prints its top lines.
func profileShard(ctx context.Context, pprofAddr string, dur time.Duration, path string) <-chan error {
	done := make(chan error, 1)
	secs := max(1, int(math.Round(dur.Seconds())))
	go func() {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
		defer cancel()
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			done <- err
			return
		}
		resp, err := statusHTTPNoTimeout.Do(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			done <- fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
			return
		}
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return done
}

// statusHTTPNoTimeout is statusHTTP without its 5 s bound (a profile takes
// the whole window; the caller's context bounds it).
var statusHTTPNoTimeout = &http.Client{Transport: &http.Transport{Proxy: nil}}
