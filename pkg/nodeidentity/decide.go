package nodeidentity

import "fmt"

// binding is the machine a node name is bound to.
type binding struct {
	keyHash string // of the machine's identity key ("" for a server's name)
	server  bool   // the name of a server's node: never given to an agent
	owned   bool   // owned by the Node: the machine registered its node since
}

// verdict is what the approver does with a request.
type verdict struct {
	approve bool
	// claim: bind the name to the request's key (approve is set too).
	claim           bool
	reason, message string
}

// CSR condition reasons, which the agent prints.
const (
	reasonBound    = "NodeIdentityBound"
	reasonInvalid  = "NotAKubeletClientRequest"
	reasonReserved = "NodeNameReserved"
	reasonTaken    = "NodeNameTaken"
)

// decide is the rule: a name is bound to the first machine that asks for it, a server's
// name to no agent; another machine gets the name once the Node of the machine that had it
// is deleted. (A name claimed by a machine whose node never registered stays its own until
// an administrator deletes the binding: releasing it after a while would leave that machine
// a valid certificate for a name someone else now has.)
func decide(r request, b *binding, nodeExists bool) verdict {
	deny := func(reason, format string, v ...any) verdict {
		return verdict{reason: reason, message: fmt.Sprintf(format, v...)}
	}
	switch {
	case b != nil && b.server:
		return deny(reasonReserved, "node name %q is the server's node; give this machine another name (--node-name)", r.node)
	case b != nil && b.keyHash == r.keyHash:
		return verdict{approve: true, reason: reasonBound, message: fmt.Sprintf("node name %q is bound to this machine's identity key", r.node)}
	case b != nil && nodeExists:
		return deny(reasonTaken, "node %q is registered by another machine (its identity key differs); if this machine replaces it, delete the node first (edgek kubectl delete node %s), or give this machine another name (--node-name)", r.node, r.node)
	case b != nil && !b.owned:
		return deny(reasonTaken, "node name %q was claimed by another machine whose node has not registered; give this machine another name (--node-name), or, if that machine is gone, free the name on the server (edgek kubectl -n kube-system delete secret %s)", r.node, secretName(r.node))
	case b == nil && nodeExists:
		return deny(reasonTaken, "node %q exists and is bound to no machine (it joined before edgek bound node names); if this machine replaces it, delete the node first (edgek kubectl delete node %s)", r.node, r.node)
	}
	return verdict{approve: true, claim: true, reason: reasonBound, message: fmt.Sprintf("node name %q is now bound to this machine's identity key", r.node)}
}
