package coffee

import (
	"strconv"

	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

// tracedHW counts each hardware call as a message out of the machine, so
// introspection and tracing show what the machine did, not only what it got.
type tracedHW struct {
	dev   hw.CoffeeHW
	stats *sup.Stats
}

func (t tracedHW) Display(text string) {
	t.stats.Sent("display", text)
	t.dev.Display(text)
}

func (t tracedHW) ReturnChange(amount int) {
	t.stats.Sent("return_change", strconv.Itoa(amount))
	t.dev.ReturnChange(amount)
}

func (t tracedHW) DropCup() {
	t.stats.Sent("drop_cup", "")
	t.dev.DropCup()
}

func (t tracedHW) Prepare(drink string) {
	t.stats.Sent("prepare", drink)
	t.dev.Prepare(drink)
}

func (t tracedHW) Reboot() {
	t.stats.Sent("reboot", "")
	t.dev.Reboot()
}
