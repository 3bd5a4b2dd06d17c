package seats

// KeyUsed reports whether an idempotency key was used by a request of kind op
// (OpHold or OpConfirm) and is still remembered. It reads only: a replicated
// shard answers it on the leader after a read index, without a log entry.
func (m *Machine) KeyUsed(op Op, key string) bool {
	_, ok := m.idem[idemScope(op, key)]
	return ok
}
