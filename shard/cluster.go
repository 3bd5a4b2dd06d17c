package shard

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"boxoffice.dev/boxoffice/shard/server"
)

// clusterFlags are the contract v2 flags (cluster mode).
type clusterFlags struct {
	ID            int
	Peers         string
	PeerListen    string
	AdvertiseURL  string
	PeerTokenFile string
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&c.ID, "id", 0, "cluster mode: this member's id, 1..7, unique in the cluster")
	fs.StringVar(&c.Peers, "peers", "", "cluster mode: every member's peer URL, this one included: 1=URL,2=URL,3=URL (3 or 5 members); without it the shard runs alone (contract v1)")
	fs.StringVar(&c.PeerListen, "peer-listen", ":7071", "cluster mode: address to serve peers on")
	fs.StringVar(&c.AdvertiseURL, "advertise-url", "", "cluster mode: the URL clients use to reach this member's API (/v1/*); required with --peers")
	fs.StringVar(&c.PeerTokenFile, "peer-token-file", "", "cluster mode: file holding the secret members present to each other (required with --peers unless --auth=none)")
}

// parsePeers reads 1=URL,2=URL,... into slots.
func parsePeers(s string) (map[int]string, error) {
	peers := map[int]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		id, err := strconv.Atoi(k)
		if !ok || err != nil || id < 1 || id > 7 {
			return nil, fmt.Errorf("--peers entry %q: want ID=URL with ID 1..7", part)
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--peers entry %q: %q is not an http(s) URL", part, v)
		}
		if _, dup := peers[id]; dup {
			return nil, fmt.Errorf("--peers names member %d twice", id)
		}
		peers[id] = v
	}
	if len(peers) != 3 && len(peers) != 5 {
		return nil, fmt.Errorf("--peers names %d members: a cluster has 3 or 5", len(peers))
	}
	return peers, nil
}

// validate adds the problems of the cluster flags.
func (c *clusterFlags) validate(auth string, problems []string) []string {
	if c.Peers == "" {
		return problems
	}
	peers, err := parsePeers(c.Peers)
	if err != nil {
		return append(problems, err.Error())
	}
	if _, ok := peers[c.ID]; !ok {
		ids := make([]int, 0, len(peers))
		for id := range peers {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		problems = append(problems, fmt.Sprintf("--id %d is not one of the members in --peers %v", c.ID, ids))
	}
	if u, err := url.Parse(c.AdvertiseURL); c.AdvertiseURL == "" || err != nil || u.Host == "" {
		problems = append(problems, "--advertise-url is required with --peers (an http(s) URL)")
	}
	if auth == "token" && c.PeerTokenFile == "" {
		problems = append(problems, "--peer-token-file is required with --peers (or --auth=none)")
	}
	return problems
}

// config builds the server's cluster configuration; nil in single mode.
func (c *clusterFlags) config(auth string) (*server.ClusterConfig, error) {
	if c.Peers == "" {
		return nil, nil
	}
	peers, err := parsePeers(c.Peers)
	if err != nil {
		return nil, err
	}
	cc := &server.ClusterConfig{ID: c.ID, Peers: peers, PeerListen: c.PeerListen, AdvertiseURL: c.AdvertiseURL}
	if auth == "token" {
		tok, err := os.ReadFile(c.PeerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading --peer-token-file: %w", err)
		}
		cc.PeerToken = strings.TrimSpace(string(tok))
		if cc.PeerToken == "" {
			return nil, fmt.Errorf("--peer-token-file %s is empty", c.PeerTokenFile)
		}
	}
	return cc, nil
}
