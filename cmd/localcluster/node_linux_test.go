//go:build linux

package main

import (
	"flag"
	"reflect"
	"strings"
	"testing"

	"boxoffice.dev/boxoffice/internal/localcluster/dev"
)

func TestParseInterleaved(t *testing.T) {
	for _, args := range [][]string{
		{"--state-dir=/s", "kill", "node-2"},
		{"kill", "--state-dir", "/s", "node-2"},
		{"kill", "node-2", "--state-dir=/s"},
	} {
		fs := flag.NewFlagSet("node", flag.ContinueOnError)
		dir := fs.String("state-dir", "/default", "")
		pos, err := parseInterleaved(fs, args)
		if err != nil || strings.Join(pos, " ") != "kill node-2" || *dir != "/s" {
			t.Errorf("%q: positional %q, state dir %s, %v", args, pos, *dir, err)
		}
	}
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	if _, err := parseInterleaved(fs, []string{"kill", "--bogus"}); err == nil {
		t.Error("an unknown flag: want an error")
	}
}

func TestUpFlagsKeepTheirNames(t *testing.T) {
	o := &dev.Options{}
	err := upFlags(o).Parse([]string{"--state-dir=/s", "--bridge=bx9", "--bins=/b", "--repo=/r", "--pod-cidr=10.1.0.0/24",
		"--image", "a=/x", "--image", "b=/y", "--manager=/m", "--sample=/s.yaml", "--ready-file=/ready",
		"--expose-port=0", "--nodes=2", "--webhooks=false"})
	if err != nil {
		t.Fatal(err)
	}
	want := dev.Options{StateDir: "/s", Bridge: "bx9", Bins: "/b", Repo: "/r", PodCIDR: "10.1.0.0/24", Images: []string{"a=/x", "b=/y"},
		Manager: "/m", Sample: "/s.yaml", ReadyFile: "/ready", ExposePort: 0, Nodes: 2, Webhooks: false}
	if !reflect.DeepEqual(*o, want) {
		t.Errorf("parsed %+v\nwant   %+v", *o, want)
	}
	d := &dev.Options{}
	if err := upFlags(d).Parse(nil); err != nil {
		t.Fatal(err)
	}
	if d.StateDir != dev.DefaultStateDir || d.Bridge != "bxlc0" || d.PodCIDR != "10.244.0.0/24" || d.Nodes != 3 || d.ExposePort != 18080 || !d.Webhooks || d.Repo != "." {
		t.Errorf("defaults %+v", *d)
	}
}
