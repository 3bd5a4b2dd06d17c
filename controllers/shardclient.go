package controllers

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// ShardClient reads a shard's status at its pod IP.
type ShardClient interface {
	Status(ctx context.Context, podIP, token string) (*shardapi.Status, error)
}

// HTTPShardClient reads GET /v1/status with the shard contract's client
// (shard/shardapi).
type HTTPShardClient struct {
	HTTP *http.Client
	// Port of the shard; tests point it at an httptest server.
	Port int
}

// NewHTTPShardClient returns a client with short timeouts: a slow shard must
// not stall the reconcile loop.
func NewHTTPShardClient(port int) *HTTPShardClient {
	return &HTTPShardClient{
		HTTP: &http.Client{
			Timeout: 3 * time.Second,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
				MaxIdleConnsPerHost: 2,
				IdleConnTimeout:     30 * time.Second,
			},
		},
		Port: port,
	}
}

// shardBase is the URL of the shard API at podIP.
func shardBase(podIP string, port int) string {
	return "http://" + net.JoinHostPort(podIP, strconv.Itoa(port))
}

// Status implements ShardClient.
func (c *HTTPShardClient) Status(ctx context.Context, podIP, token string) (*shardapi.Status, error) {
	api := shardapi.Client{HTTP: c.HTTP, Token: token, MaxAnswer: 1 << 20}
	return api.Status(ctx, shardBase(podIP, c.Port))
}
