package network

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Forward is a small stand-in for a Service's load balancing: each
// connection to addr goes to one of the ready pod addresses, round robin.
func Forward(ctx context.Context, addr string, targets func() []string, port int) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); l.Close() }()
	var mu sync.Mutex
	n := 0
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ts := targets()
				if len(ts) == 0 {
					return
				}
				mu.Lock()
				t := ts[n%len(ts)]
				n++
				mu.Unlock()
				up, err := net.DialTimeout("tcp", net.JoinHostPort(t, fmt.Sprint(port)), 5*time.Second)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return nil
}
