package fault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestNext(t *testing.T) {
	for _, tc := range []struct {
		from State
		a    Action
		to   State
		err  bool
	}{
		{Running, Kill, Killed, false},
		{Running, Pause, Paused, false},
		{Running, Cut, Partitioned, false},
		{Running, Heal, Running, false},
		{Paused, Kill, Killed, false},
		{Partitioned, Kill, Killed, false},
		{Killed, Kill, Killed, true},
		{Killed, Pause, Killed, true},
		{Killed, Cut, Killed, true},
		{Paused, Cut, Paused, true},
		{Partitioned, Pause, Partitioned, true},
		{Killed, Heal, Running, false},
		{Paused, Heal, Running, false},
		{Partitioned, Heal, Running, false},
	} {
		got, err := Next(tc.from, tc.a)
		if got != tc.to || (err != nil) != tc.err {
			t.Errorf("Next(%s, %s) = %s, %v; want %s, error %v", tc.from, tc.a, got, err, tc.to, tc.err)
		}
		if err != nil && !errors.Is(err, ErrTransition) {
			t.Errorf("Next(%s, %s): %v does not wrap ErrTransition", tc.from, tc.a, err)
		}
	}
	if _, err := Next(Running, "reboot"); err == nil || errors.Is(err, ErrTransition) {
		t.Errorf("unknown action: got %v, want a plain error", err)
	}
}

func TestParseAction(t *testing.T) {
	for _, a := range Actions {
		if got, err := ParseAction(string(a)); got != a || err != nil {
			t.Errorf("ParseAction(%q) = %q, %v", a, got, err)
		}
	}
	if _, err := ParseAction("explode"); err == nil || !strings.Contains(err.Error(), "explode") {
		t.Errorf("ParseAction(explode) = %v; want an error naming it", err)
	}
}

// fakeFleet applies Next to an in-memory node set.
type fakeFleet struct{ nodes map[string]State }

func (f *fakeFleet) Nodes() []NodeStatus {
	var out []NodeStatus
	for _, n := range []string{"node-1", "node-2"} {
		out = append(out, NodeStatus{Name: n, State: f.nodes[n]})
	}
	return out
}

func (f *fakeFleet) Apply(node string, a Action) (NodeStatus, error) {
	s, ok := f.nodes[node]
	if !ok {
		return NodeStatus{}, fmt.Errorf("%w %q", ErrUnknownNode, node)
	}
	next, err := Next(s, a)
	if err != nil {
		return NodeStatus{}, err
	}
	f.nodes[node] = next
	return NodeStatus{Name: node, State: next}, nil
}

func TestClientServerOverUnixSocket(t *testing.T) {
	sock := SocketPath(t.TempDir())
	if filepath.Base(sock) != SocketName {
		t.Fatalf("SocketPath = %s", sock)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFleet{nodes: map[string]State{"node-1": Running, "node-2": Running}}
	srv := &http.Server{Handler: Handler(f)}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	ctx := context.Background()
	c := NewClient(sock)
	st, err := c.Do(ctx, "node-2", Kill)
	if err != nil || st.State != Killed || st.Name != "node-2" {
		t.Fatalf("kill node-2 = %+v, %v", st, err)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[1].State != Killed || nodes[0].State != Running {
		t.Fatalf("Nodes = %+v, %v", nodes, err)
	}
	if _, err := c.Do(ctx, "node-2", Pause); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("pause a killed node: %v; want 409 Conflict", err)
	}
	if _, err := c.Do(ctx, "node-9", Heal); err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "node-9") {
		t.Errorf("heal unknown node: %v; want 404 naming it", err)
	}
	if _, err := c.Do(ctx, "node-1", "explode"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("unknown action: %v; want 400", err)
	}
	if st, err := c.Do(ctx, "node-2", Heal); err != nil || st.State != Running {
		t.Errorf("heal node-2 = %+v, %v", st, err)
	}
}

func TestClientWithoutServer(t *testing.T) {
	_, err := NewClient(filepath.Join(t.TempDir(), "none.sock")).Nodes(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is `localcluster up` running") {
		t.Errorf("got %v; want an error saying the cluster is not running", err)
	}
}
