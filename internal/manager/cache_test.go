package manager

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseNamespaces(t *testing.T) {
	for in, want := range map[string][]string{"": nil, " ": nil, "venues": {"venues"}, "shows, venues,": {"shows", "venues"}, "b,a": {"a", "b"}} {
		got, err := parseNamespaces(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseNamespaces(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{"Venues": `"Venues" is not a namespace name`, "a,a": `"a" is listed twice`, "a_b": `"a_b" is not a namespace name`} {
		if _, err := parseNamespaces(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseNamespaces(%q) error %v, want %q", in, err, msg)
		}
	}
}

func TestParseFlagsWatchNamespaces(t *testing.T) {
	c, _, err := parseFlags([]string{"--watch-namespaces=venues,shows"})
	if err != nil || !reflect.DeepEqual(c.WatchNamespaces, []string{"shows", "venues"}) {
		t.Fatalf("got %v, %v", c, err)
	}
	if _, _, err := parseFlags([]string{"--watch-namespaces=Bad"}); err == nil || !strings.HasPrefix(err.Error(), "--watch-namespaces: ") {
		t.Errorf("bad namespace: error %v", err)
	}
	t.Setenv("WATCH_NAMESPACES", "venues")
	if c, _, err := parseFlags(nil); err != nil || !reflect.DeepEqual(c.WatchNamespaces, []string{"venues"}) {
		t.Errorf("from the environment: %v, %v", c, err)
	}
}

func TestCacheOptions(t *testing.T) {
	all := cacheOptions(nil)
	if all.DefaultNamespaces != nil {
		t.Errorf("no watch list: the cache is limited to %v", all.DefaultNamespaces)
	}
	if len(all.ByObject) != 3 {
		t.Errorf("want pods, secrets and configmaps filtered by label, got %d entries", len(all.ByObject))
	}
	for obj, by := range all.ByObject {
		if by.Label == nil || by.Label.String() != "app.kubernetes.io/managed-by=boxoffice-operator" {
			t.Errorf("%T cached with selector %v", obj, by.Label)
		}
	}
	some := cacheOptions([]string{"shows", "venues"})
	if len(some.DefaultNamespaces) != 2 {
		t.Errorf("watch list: DefaultNamespaces %v", some.DefaultNamespaces)
	}
	for _, n := range []string{"shows", "venues"} {
		if _, ok := some.DefaultNamespaces[n]; !ok {
			t.Errorf("namespace %s not cached", n)
		}
	}
	if len(some.ByObject) != 3 {
		t.Errorf("watch list: the label filters are gone: %v", some.ByObject)
	}
}
