// Package nodeagent is the local cluster's in-process node agents, one per
// node (node-1..node-N, a zone each): each registers its Node, keeps its
// lease and Ready condition beating, provisions local volumes the scheduler
// places on it and runs the pods bound to it (package podruntime). Fleet
// holds the nodes and applies fault injection to them (kill, pause, cut,
// heal; package fault).
package nodeagent
