package podruntime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeLoop runs the container's startup, liveness and readiness probes.
func (r *Runner) probeLoop(ctx context.Context, c *ctr, unhealthy func(string)) {
	run := func(p *corev1.Probe, kind string) {
		if p == nil {
			return
		}
		period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
		timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
		failureThreshold := max(p.FailureThreshold, 1)
		successThreshold := max(p.SuccessThreshold, 1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(p.InitialDelaySeconds) * time.Second):
		}
		fails, oks := int32(0), int32(0)
		for {
			r.mu.Lock()
			started := c.started
			r.mu.Unlock()
			if kind == "startup" && started {
				return
			}
			// A paused node probes nothing: its processes are stopped.
			if (kind == "startup" || started) && !r.node.Frozen() {
				err := r.probe(ctx, p, &c.spec, timeout)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					fails, oks = 0, oks+1
				} else {
					fails, oks = fails+1, 0
				}
				switch kind {
				case "startup":
					if err == nil {
						r.mu.Lock()
						c.started = true
						if c.spec.ReadinessProbe == nil {
							c.ready = true
						}
						r.mu.Unlock()
						r.Changed()
						return
					}
					if fails >= failureThreshold {
						unhealthy("failed its startup probe: " + err.Error())
						return
					}
				case "liveness":
					if fails >= failureThreshold {
						unhealthy("failed its liveness probe: " + err.Error())
						return
					}
				case "readiness":
					r.mu.Lock()
					was := c.ready
					if oks >= successThreshold {
						c.ready = true
					} else if fails >= failureThreshold {
						c.ready = false
					}
					now := c.ready
					r.mu.Unlock()
					if was != now {
						r.Changed()
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(period):
			}
		}
	}
	if c.spec.ReadinessProbe == nil && c.spec.StartupProbe == nil {
		r.mu.Lock()
		c.ready = true
		r.mu.Unlock()
		r.Changed()
	} else if c.spec.ReadinessProbe == nil {
		// ready follows started, set by the startup probe
	}
	go run(c.spec.StartupProbe, "startup")
	go run(c.spec.LivenessProbe, "liveness")
	run(c.spec.ReadinessProbe, "readiness")
	<-ctx.Done()
}

func portOf(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container has no port named %q", p.StrVal)
}

var probeClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// probe runs one probe against the pod's own address.
func (r *Runner) probe(ctx context.Context, p *corev1.Probe, c *corev1.Container, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		port, err := portOf(p.HTTPGet.Port, c)
		if err != nil {
			return err
		}
		scheme := "http"
		if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			return errors.New("HTTPS probes are not supported by the local cluster")
		}
		path := p.HTTPGet.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(r.ip.String(), strconv.Itoa(port))+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "kube-probe/localcluster")
		for _, h := range p.HTTPGet.HTTPHeaders {
			req.Header.Set(h.Name, h.Value)
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil:
		port, err := portOf(p.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(r.ip.String(), strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	default:
		return errors.New("only httpGet and tcpSocket probes are supported by the local cluster")
	}
}
