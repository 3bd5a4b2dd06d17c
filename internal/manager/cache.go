package manager

import (
	"fmt"
	"sort"

	"boxoffice.dev/boxoffice/controllers"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// parseNamespaces reads --watch-namespaces: comma-separated namespace names,
// each a DNS label, without duplicates. Empty means every namespace.
func parseNamespaces(s string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, n := range splitList(s) {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			return nil, fmt.Errorf("%q is not a namespace name: %s", n, errs[0])
		}
		if seen[n] {
			return nil, fmt.Errorf("%q is listed twice", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// cacheOptions is what the manager caches: only the pods, secrets and
// configmaps this operator made (the cluster's others are none of its
// business), and, with watch namespaces, only objects in those namespaces.
// Cluster-scoped kinds (FreezeWindows, ShardRollouts, Namespaces) are cached
// cluster-wide either way.
func cacheOptions(watch []string) cache.Options {
	// The showtime controller reads past this cache where it must
	// (controllers.CacheByObject), so the filter lives beside it.
	o := cache.Options{ByObject: controllers.CacheByObject()}
	if len(watch) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, n := range watch {
			o.DefaultNamespaces[n] = cache.Config{}
		}
	}
	return o
}
