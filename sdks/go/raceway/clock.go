package raceway

import "sort"

// maxCounter is the largest clock counter (2^53-1, spec 3.3): every SDK's JSON reads it exactly.
const maxCounter = 1<<53 - 1

// vclock is a vector clock: component to counter, absent components count as 0 (spec 3.5).
// It is not safe for concurrent use; an execution context guards its clock with its mutex.
type vclock map[string]uint64

// increment adds one to a component (spec 3.2). A counter at 2^53-1 stays where it is.
func (c vclock) increment(component string) {
	if n := c[component]; n < maxCounter {
		c[component] = n + 1
	}
}

// merge takes the element-wise maximum of c and other into c (spec 3.2).
func (c vclock) merge(other vclock) {
	for k, v := range other {
		if v > c[k] {
			c[k] = v
		}
	}
}

func (c vclock) clone() vclock {
	out := make(vclock, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// sortedKeys returns the components in byte order, the canonical order of spec 3.3.
func (c vclock) sortedKeys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Order is how one clock relates to another (spec 3.5).
type Order string

// The four answers of a clock comparison.
const (
	OrderEqual      Order = "equal"
	OrderBefore     Order = "before"
	OrderAfter      Order = "after"
	OrderConcurrent Order = "concurrent"
)

// compare tells how a relates to b: every entry <= (before), >= (after), both (equal), neither.
func compare(a, b vclock) Order {
	aLess, bLess := false, false
	for k, av := range a {
		bv := b[k]
		if av < bv {
			aLess = true
		} else if av > bv {
			bLess = true
		}
	}
	for k, bv := range b {
		if _, seen := a[k]; !seen && bv > 0 {
			aLess = true
		}
	}
	switch {
	case aLess && bLess:
		return OrderConcurrent
	case aLess:
		return OrderBefore
	case bLess:
		return OrderAfter
	default:
		return OrderEqual
	}
}
