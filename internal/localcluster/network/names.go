package network

// Names of everything the local cluster makes outside its state directory,
// so that a later start can find and remove them after a crash. Pod network
// namespaces are named BRIDGE-UIDPREFIX, so two clusters with different
// bridges never touch each other's.

// NetnsPrefix starts the name of every pod network namespace on bridge.
func NetnsPrefix(bridge string) string { return bridge + "-" }

// VethPrefix starts the name of every pod's host-side veth.
const VethPrefix = "bxv"

// PodLinkNames are the network namespace and host veth of the pod with
// uid on bridge. Interface names are limited to 15 bytes, so both carry the
// first 8 characters of the UID only.
func PodLinkNames(bridge, uid string) (netns, veth string) {
	short := uid
	if len(short) > 8 {
		short = short[:8]
	}
	return NetnsPrefix(bridge) + short, VethPrefix + short
}
