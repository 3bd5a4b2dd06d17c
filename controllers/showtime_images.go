package controllers

import (
	"slices"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
)

// recordVersions notes the shard and front-end images seen running ready in
// status.versions, so admission can tell a rollback (to any image the
// showtime ran) from a new version during a freeze.
func recordVersions(s *scope) {
	if s.st.Status.Shard.Ready {
		noteImage(&s.st.Status.Versions.Shard, s.st.Status.Shard.Image)
	}
	noteImage(&s.st.Status.Versions.Frontend, readyFrontendImage(s.deployment))
}

// readyFrontendImage is the front-end image a ready pod runs: the
// Deployment's template image once the Deployment has acted on its current
// template, every pod it runs is of that template, and one of them is ready.
// During a rolling update it is "" (a ready pod may be an old one).
func readyFrontendImage(dep *appsv1.Deployment) string {
	if dep == nil || dep.Status.ObservedGeneration < dep.Generation ||
		dep.Status.ReadyReplicas == 0 || dep.Status.UpdatedReplicas != dep.Status.Replicas {
		return ""
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == boxv1.ComponentFrontend {
			return c.Image
		}
	}
	return ""
}

// noteImage makes running the current image: the one before becomes
// previous, and running moves to the front of history (distinct images,
// newest first, at most boxv1.MaxImageHistory). A history recorded before
// the list existed starts from current and previous.
func noteImage(h *boxv1.ImageHistory, running string) {
	if len(h.History) == 0 {
		for _, img := range []string{h.Current, h.Previous} {
			if img != "" && !slices.Contains(h.History, img) {
				h.History = append(h.History, img)
			}
		}
	}
	if running == "" {
		return
	}
	if running != h.Current {
		if h.Current != "" {
			h.Previous = h.Current
		}
		h.Current = running
	}
	hist := append([]string{running}, slices.DeleteFunc(slices.Clone(h.History), func(img string) bool { return img == running })...)
	if len(hist) > boxv1.MaxImageHistory {
		hist = hist[:boxv1.MaxImageHistory]
	}
	h.History = hist
}
