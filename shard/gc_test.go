package shard

import "testing"

func TestChooseGC(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		name      string
		getenv    func(string) string
		memoryMax string
		want      gcSettings
	}{
		{"no container limit", env(), "max\n", gcSettings{percent: 400}},
		{"no cgroup file", env(), "", gcSettings{percent: 400}},
		{"a 1 GiB container", env(), "1073741824\n", gcSettings{percent: 400, limit: 858993459}},
		{"GOGC wins", env("GOGC", "100"), "1073741824\n", gcSettings{limit: 858993459}},
		{"GOMEMLIMIT wins", env("GOMEMLIMIT", "512MiB"), "1073741824\n", gcSettings{percent: 400}},
		{"both from the environment", env("GOGC", "off", "GOMEMLIMIT", "1GiB"), "1073741824", gcSettings{}},
	} {
		if got := chooseGC(400, c.getenv, c.memoryMax); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
