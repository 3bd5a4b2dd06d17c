package network

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// backend accepts connections on a loopback address (all backends share one
// port on 127.0.0.x) and answers each with its name.
func backend(t *testing.T, ip string, port int, name string) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name))
			c.Close()
		}
	}()
}

func TestForwardRoundRobin(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2: %v", err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	backend(t, "127.0.0.2", port, "a")
	backend(t, "127.0.0.3", port, "b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := front.Addr().String()
	front.Close()
	if err := Forward(ctx, addr, func() []string { return []string{"127.0.0.2", "127.0.0.3"} }, port); err != nil {
		t.Fatal(err)
	}
	var got string
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		got += string(b)
	}
	if got != "abab" {
		t.Errorf("answers %q; want each target in turn (abab)", got)
	}
}
