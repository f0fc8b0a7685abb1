package app

import (
	"fmt"
	"sync/atomic"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/frequency"
	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/phonefsm"
	"github.com/bsc-sim/bsc/internal/sup"
)

// names holds the current incarnation of each process the service talks
// to, the way Erlang registers a name for a pid: a process registers
// itself when it starts, a restart replaces it, and a lookup while it
// restarts finds none and answers unavailable. Everything that needs the
// current allocator, overload manager or phone set goes through here.
type names struct {
	overload  registered[overload.Manager]
	frequency registered[frequency.Allocator]
	phones    registered[sup.Supervisor]  // the phones supervisor
	phoneSet  registered[phonefsm.Phones] // its phones
}

func newNames() *names {
	return &names{
		overload:  registered[overload.Manager]{name: "overload"},
		frequency: registered[frequency.Allocator]{name: "frequency"},
		phones:    registered[sup.Supervisor]{name: "phones"},
		phoneSet:  registered[phonefsm.Phones]{name: "phones"},
	}
}

var errRestarting = errcode.New(errcode.Unavailable, "process is restarting")

// registered is one registered name.
type registered[T any] struct {
	name string
	p    atomic.Pointer[T]
}

// register makes v the process behind the name.
func (r *registered[T]) register(v *T) { r.p.Store(v) }

// whereis is the process behind the name, nil while there is none (the
// book's whereis/1).
func (r *registered[T]) whereis() *T { return r.p.Load() }

// get is the process behind the name, or unavailable while it restarts.
func (r *registered[T]) get() (*T, error) {
	if cur := r.p.Load(); cur != nil {
		return cur, nil
	}
	return nil, fmt.Errorf("%w: %s", errRestarting, r.name)
}
