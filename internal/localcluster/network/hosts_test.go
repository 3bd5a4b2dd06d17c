package network

import (
	"strings"
	"testing"
)

func TestRenderHosts(t *testing.T) {
	got := string(RenderHosts("10.244.0.5", "web-1", "venues", []SvcHosts{
		{Namespace: "venues", Name: "show-shard", IPs: []string{"10.244.0.3"}, Hostnames: map[string]string{"10.244.0.3": "show-shard-0"}},
		{Namespace: "other", Name: "api", IPs: []string{"10.244.0.9"}},
		{Namespace: "venues", Name: "empty"},
	}))
	for _, want := range []string{
		"127.0.0.1\tlocalhost\n",
		"10.244.0.5\tweb-1\n",
		"10.244.0.3\tshow-shard.venues.svc show-shard.venues.svc.cluster.local show-shard.venues show-shard\n",
		"10.244.0.3\tshow-shard-0.show-shard.venues.svc show-shard-0.show-shard.venues.svc.cluster.local show-shard-0.show-shard\n",
		"10.244.0.9\tapi.other.svc api.other.svc.cluster.local api.other\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "empty") {
		t.Errorf("a Service without ready endpoints must not resolve:\n%s", got)
	}
	// other namespace comes before venues: deterministic order.
	if strings.Index(got, "api.other") > strings.Index(got, "show-shard.venues") {
		t.Errorf("not sorted:\n%s", got)
	}
}
