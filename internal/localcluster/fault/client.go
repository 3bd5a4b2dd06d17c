package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"
)

// SocketName is the control socket's file name in the cluster's state dir.
const SocketName = "control.sock"

// SocketPath is the control socket of the cluster with this state dir.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, SocketName) }

// Client talks to a running `localcluster up` over its control socket.
type Client struct {
	Socket string
	hc     *http.Client
}

// NewClient returns a client for the control socket at path.
func NewClient(path string) *Client {
	return &Client{Socket: path, hc: &http.Client{
		Timeout: time.Minute, // a kill waits for the node's pods to be torn down
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}}
}

// Nodes lists the cluster's nodes and their states.
func (c *Client) Nodes(ctx context.Context) ([]NodeStatus, error) {
	var out []NodeStatus
	return out, c.do(ctx, http.MethodGet, "/nodes", &out)
}

// Do applies a to the named node and returns its new status.
func (c *Client) Do(ctx context.Context, node string, a Action) (NodeStatus, error) {
	var out NodeStatus
	return out, c.do(ctx, http.MethodPost, "/nodes/"+node+"/"+string(a), &out)
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://localcluster"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("local cluster control socket %s (is `localcluster up` running?): %w", c.Socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
