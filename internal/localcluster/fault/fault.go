// Package fault is the local cluster's fault injection: the states a node of
// the dev cluster can be put in, the transitions between them, and the
// control-socket protocol (server handler and client) that `localcluster node`
// and the end-to-end tests use to drive a running `localcluster up`.
package fault

import (
	"errors"
	"fmt"
)

// Action is what a caller asks of a node.
type Action string

// The actions.
const (
	// Kill SIGKILLs every pod process on the node and stops its agent and
	// heartbeats, as a node that lost power.
	Kill Action = "kill"
	// Pause SIGSTOPs the node's pod processes and freezes its agent and
	// heartbeats, as a node stalled by the hypervisor.
	Pause Action = "pause"
	// Cut blackholes the node's pods from other nodes' pods and stops its
	// heartbeats, while the processes keep running.
	Cut Action = "cut"
	// Heal undoes any of the above: a killed node boots again and restarts
	// its pods, a paused one resumes, a cut one is reconnected.
	Heal Action = "heal"
)

// Actions lists every action, in the order the help text gives them.
var Actions = []Action{Kill, Pause, Cut, Heal}

// State is where a node is.
type State string

// The states.
const (
	Running     State = "running"
	Killed      State = "killed"
	Paused      State = "paused"
	Partitioned State = "partitioned"
)

// ParseAction turns a command-line word into an Action.
func ParseAction(s string) (Action, error) {
	for _, a := range Actions {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown action %q (want kill, pause, cut or heal)", s)
}

// ErrTransition is wrapped by every refused transition.
var ErrTransition = errors.New("refused")

// Next is the state a node in s goes to on a. A killed node can only be
// healed; pause and cut apply to a running node; kill applies to any node
// that is not already killed (a paused or cut node can still lose power);
// heal of a running node changes nothing.
func Next(s State, a Action) (State, error) {
	switch a {
	case Heal:
		return Running, nil
	case Kill:
		if s == Killed {
			return s, fmt.Errorf("%w: the node is already killed; heal it first", ErrTransition)
		}
		return Killed, nil
	case Pause, Cut:
		if s != Running {
			return s, fmt.Errorf("%w: the node is %s; heal it before you %s it", ErrTransition, s, a)
		}
		if a == Pause {
			return Paused, nil
		}
		return Partitioned, nil
	}
	return s, fmt.Errorf("unknown action %q (want kill, pause, cut or heal)", a)
}

// NodeStatus is one node as the control socket reports it.
type NodeStatus struct {
	Name  string `json:"name"`
	Zone  string `json:"zone"`
	State State  `json:"state"`
	// PodCIDR is the node's share of the pod range.
	PodCIDR string `json:"podCIDR"`
}
