package seats

// KeyUsed reports whether an idempotency key was used by a request of kind op
// (OpHold or OpConfirm) and is still remembered. It reads only: a replicated
// shard answers it on the leader after a read index, without a log entry.
func (m *Machine) KeyUsed(op Op, key string) bool {
	_, ok := m.idem[idemScope(op, key)]
	return ok
}

// HolderSeats is how many seats the holder's active holds (held or awaiting
// payment) hold now.
func (m *Machine) HolderSeats(holder string) int32 { return m.holderSeats[holder] }

// TakeHolders returns the holders whose seat count changed (a hold made,
// released, expired or sold) since the last call, in order, possibly with
// repeats. The slice is reused by later commands. A caller that never
// takes them lets the list grow: the shard takes them after every command.
func (m *Machine) TakeHolders() []string {
	h := m.holderMoved
	m.holderMoved = m.holderMoved[:0]
	return h
}
